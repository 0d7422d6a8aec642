import Foundation
import MedVoxCore
import MedVoxTensor

/// Errors reading checkpoints and loading them into modules.
public enum CheckpointError: MedVoxError, Equatable {
    case malformed(path: String, reason: String)
    case unsupportedDType(path: String, name: String, dtype: String)
    case missingTensor(path: String, name: String)
    case unexpectedTensor(path: String, name: String)
    case shapeMismatch(path: String, name: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case let .malformed(path, reason): return "\(path): not a valid safetensors file: \(reason)"
        case let .unsupportedDType(path, name, dtype):
            return "\(path): tensor '\(name)' has dtype \(dtype); MedVox reads F32, F16, BF16 and F64"
        case let .missingTensor(path, name): return "\(path): the model needs tensor '\(name)', which the file lacks"
        case let .unexpectedTensor(path, name): return "\(path): tensor '\(name)' does not belong to this model"
        case let .shapeMismatch(path, name, expected, found):
            return "\(path): tensor '\(name)' has shape \(found), the model expects \(expected)"
        }
    }
}

/// The safetensors format (https://github.com/huggingface/safetensors), in which PyTorch users
/// exchange weights:
///
/// | bytes | content |
/// | --- | --- |
/// | 0..<8 | N, the header length, unsigned 64-bit little-endian |
/// | 8..<8+N | UTF-8 JSON: `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, …, "__metadata__": {"key": "value"}}` |
/// | 8+N… | the tensors' bytes, little-endian, row-major; offsets are relative to this point |
///
/// MedVox writes F32 with names sorted and the header padded with spaces to a multiple of 8
/// bytes (as the Python package does); it reads F32, F16, BF16 and F64, converting to Float32.
public enum Safetensors {
    /// Bytes per element of the dtypes read.
    static let elementSize: [String: Int] = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8]

    public static func read(path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = (attributes?[.size] as? NSNumber)?.intValue else {
            throw FileError.cannotRead(path: path, reason: "no such file")
        }
        if size > Runtime.maxMemory { throw FileError.tooLarge(path: path, bytes: size, limit: Runtime.maxMemory) }
        guard let data = FileManager.default.contents(atPath: path) else { throw FileError.cannotRead(path: path, reason: "unreadable") }
        return try decode([UInt8](data), path: path)
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func bad(_ r: String) -> CheckpointError { .malformed(path: path, reason: r) }
        guard bytes.count >= 8 else { throw bad("file of \(bytes.count) bytes is shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(bytes.count - 8) else { throw bad("header length \(n) exceeds the file size \(bytes.count)") }
        let dataStart = 8 + Int(n)
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])), let header = json as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var tensors: [String: Tensor] = [:]
        let dataCount = bytes.count - dataStart
        for (name, entry) in header {
            if name == "__metadata__" {
                guard let m = entry as? [String: String] else { throw bad("__metadata__ is not a map of strings") }
                metadata = m
                continue
            }
            guard let e = entry as? [String: Any], let dtype = e["dtype"] as? String, let shape = e["shape"] as? [Int],
                  let offsets = e["data_offsets"] as? [Int], offsets.count == 2
            else { throw bad("entry '\(name)' lacks dtype, shape or data_offsets") }
            guard let width = elementSize[dtype] else { throw CheckpointError.unsupportedDType(path: path, name: name, dtype: dtype) }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw bad("tensor '\(name)' has a negative dimension in \(shape)") }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataCount else {
                throw bad("tensor '\(name)' has data offsets \(offsets) outside the \(dataCount) data bytes")
            }
            guard offsets[1] - offsets[0] == count * width else {
                throw bad("tensor '\(name)' of shape \(shape) \(dtype) needs \(count * width) bytes, has \(offsets[1] - offsets[0])")
            }
            var values = [Float](repeating: 0, count: count)
            let base = dataStart + offsets[0]
            for i in 0..<count {
                let o = base + i * width
                switch dtype {
                case "F32": values[i] = Float(bitPattern: littleEndian(bytes, o, 4).toU32)
                case "F64": values[i] = Float(Double(bitPattern: littleEndian(bytes, o, 8)))
                case "BF16": values[i] = Float(bitPattern: littleEndian(bytes, o, 2).toU32 << 16)
                default: values[i] = halfToFloat(UInt16(littleEndian(bytes, o, 2)))
                }
            }
            tensors[name] = Tensor(shape: shape, storage: values)
        }
        return (tensors, metadata)
    }

    /// The file's bytes for `tensors` (as F32) and `metadata`.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) -> [UInt8] {
        let names = tensors.keys.sorted()
        var entries: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(m.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            let end = offset + 4 * t.count
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + offset)
        for i in 0..<8 { out.append(UInt8((UInt64(header.count) >> (8 * UInt64(i))) & 0xFF)) }
        out += header
        for name in names {
            for v in tensors[name]!.storage {
                let b = v.bitPattern.littleEndian
                out += [UInt8(b & 0xFF), UInt8((b >> 8) & 0xFF), UInt8((b >> 16) & 0xFF), UInt8(b >> 24)]
            }
        }
        return out
    }

    /// Writes atomically (nothing is left behind on failure).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: path)
    }

    static func jsonString(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])  // an array of one string always encodes
        let a = String(decoding: data, as: UTF8.self)
        return String(a.dropFirst().dropLast())
    }

    @inline(__always) static func littleEndian(_ b: [UInt8], _ o: Int, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(b[o + i]) << (8 * UInt64(i)) }
        return v
    }

    /// IEEE 754 binary16 → binary32 (subnormals, infinities and NaN included).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exp = Int((h >> 10) & 0x1F), frac = UInt32(h & 0x3FF)
        if exp == 0 {
            let magnitude = Float(frac) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (frac << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (frac << 13))
    }
}

extension UInt64 {
    fileprivate var toU32: UInt32 { UInt32(truncatingIfNeeded: self) }
}

extension Module {
    /// Saves parameters and buffers to a safetensors file.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try Safetensors.write(stateDict(), metadata: metadata, to: path)
    }

    /// Loads parameters and buffers from a safetensors file (names and shapes must match).
    public func load(from path: String) throws {
        try loadStateDict(Safetensors.read(path: path).tensors, path: path)
    }
}
