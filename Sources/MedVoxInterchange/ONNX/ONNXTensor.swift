import MedVoxCore

#if canImport(Glibc)
    import Glibc
#endif

/// TensorProto: a constant tensor (an initializer or a TENSOR attribute). The values stay as
/// stored (raw little-endian bytes, a typed repeated field, or a reference to an external file)
/// until `floats()` or `int64s()` is called, which checks the shape against the data first.
public struct ONNXTensor: Sendable {
    /// TensorProto.name (8).
    public var name = ""
    /// TensorProto.dims (1), row-major; empty for a scalar.
    public var dims: [Int64] = []
    /// TensorProto.data_type (2).
    public var dataType = ONNXDataType.undefined
    /// TensorProto.raw_data (9): little-endian elements, when the producer used it (torch does).
    public var rawData: [UInt8]?
    /// TensorProto.float_data (4), int32_data (5; also 8/16-bit ints, bool, float16 bit patterns),
    /// int64_data (7), double_data (10), uint64_data (11; also uint32).
    public var floatData: [Float] = []
    public var int32Data: [Int32] = []
    public var int64Data: [Int64] = []
    public var doubleData: [Double] = []
    public var uint64Data: [UInt64] = []
    /// Number of TensorProto.string_data (6) entries (string tensors are not read as values).
    public var stringCount = 0
    /// TensorProto.data_location (14): true for EXTERNAL, the values then live in the file that
    /// `externalData` (13: location, offset, length, checksum) describes.
    public var isExternal = false
    public var externalData: [ONNXKeyValue] = []
    /// The model file (for errors) and its folder (external data locations are relative to it).
    public var modelPath = ""
    public var folder = "."

    init(_ r: inout ProtobufReader, folder: String) throws {
        modelPath = r.path
        self.folder = folder
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1: try r.repeated(wire, scalar: .varint, into: &dims) { try $0.int64($1) }
            case 2: dataType = ONNXDataType(rawValue: try r.int32(wire))
            case 3: throw ModelFormatError.unsupported(path: r.path, context: r.context, reason: "segmented tensors")
            case 4: try r.repeated(wire, scalar: .fixed32, into: &floatData) { try $0.float($1) }
            case 5: try r.repeated(wire, scalar: .varint, into: &int32Data) { try $0.int32($1) }
            case 6:
                _ = try r.lengthDelimited(wire)
                stringCount += 1
            case 7: try r.repeated(wire, scalar: .varint, into: &int64Data) { try $0.int64($1) }
            case 8: name = try r.string(wire)
            case 9: rawData = try r.data(wire)
            case 10: try r.repeated(wire, scalar: .fixed64, into: &doubleData) { try $0.double($1) }
            case 11: try r.repeated(wire, scalar: .varint, into: &uint64Data) { try $0.expect($1, .varint); return try $0.varint() }
            case 13:
                var e = try r.message(wire, context: "external_data[\(externalData.count)]")
                externalData.append(try ONNXKeyValue(&e))
            case 14:
                let location = try r.int32(wire)
                guard location == 0 || location == 1 else { throw r.error("data_location \(location) is neither DEFAULT nor EXTERNAL") }
                isExternal = location == 1
            default: try r.skip(wire)
            }
        }
    }

    func invalid(_ reason: String) -> ModelFormatError { .invalidTensor(path: modelPath, tensor: name, reason: reason) }

    /// The shape as Ints (each dimension checked non-negative).
    public func shape() throws -> [Int] {
        try dims.map { d in
            guard d >= 0, let v = Int(exactly: d) else { throw invalid("dimension \(d) in \(dims)") }
            return v
        }
    }

    /// The number of elements (1 for a scalar), refusing shapes whose product overflows.
    public func elementCount() throws -> Int {
        var n = 1
        for d in try shape() {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { throw invalid("shape \(dims) has more elements than a 64-bit count holds") }
            n = p
        }
        return n
    }

    /// The values as Float: FLOAT, FLOAT16 and BFLOAT16 (converted exactly), DOUBLE (rounded).
    public func floats() throws -> [Float] {
        let n = try elementCount()
        switch dataType {
        case .float:
            if let bytes = try stored(n) { return littleEndian(bytes, width: 4) { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) } }
            return try typed(floatData, n, "float_data")
        case .float16, .bfloat16:
            let convert: (UInt16) -> Float = dataType == .float16 ? floatFromHalf : { Float(bitPattern: UInt32($0) << 16) }
            if let bytes = try stored(n) { return littleEndian(bytes, width: 2) { convert(UInt16(truncatingIfNeeded: $0)) } }
            return try typed(int32Data, n, "int32_data").map { convert(UInt16(truncatingIfNeeded: $0)) }
        case .double:
            if let bytes = try stored(n) { return littleEndian(bytes, width: 8) { Float(Double(bitPattern: $0)) } }
            return try typed(doubleData, n, "double_data").map { Float($0) }
        default:
            throw ModelFormatError.unsupported(
                path: modelPath, context: "tensor '\(name)'", reason: "\(dataType) values read as float (FLOAT, FLOAT16, BFLOAT16, DOUBLE are)")
        }
    }

    /// The values as Int64: INT64, INT32, INT16, INT8, UINT8, UINT16, UINT32, UINT64 (when it
    /// fits) and BOOL (0 or 1).
    public func int64s() throws -> [Int64] {
        let n = try elementCount()
        let t = dataType
        switch t {
        case .int64:
            if let bytes = try stored(n) { return littleEndian(bytes, width: 8) { Int64(bitPattern: $0) } }
            return try typed(int64Data, n, "int64_data")
        case .int32, .int16, .int8, .uint8, .uint16, .bool:
            if let bytes = try stored(n) {
                let w = t.byteWidth!
                return littleEndian(bytes, width: w) { bits in
                    switch t {
                    case .int32: return Int64(Int32(truncatingIfNeeded: bits))
                    case .int16: return Int64(Int16(truncatingIfNeeded: bits))
                    case .int8: return Int64(Int8(truncatingIfNeeded: bits))
                    case .bool: return bits == 0 ? 0 : 1
                    default: return Int64(bits)
                    }
                }
            }
            return try typed(int32Data, n, "int32_data").map { t == .bool ? ($0 == 0 ? 0 : 1) : Int64($0) }
        case .uint32, .uint64:
            let values: [UInt64]
            if let bytes = try stored(n) {
                values = littleEndian(bytes, width: t.byteWidth!) { $0 }
            } else {
                values = try typed(uint64Data, n, "uint64_data")
            }
            return try values.map { v in
                guard let s = Int64(exactly: v) else { throw invalid("value \(v) does not fit Int64") }
                return s
            }
        default:
            throw ModelFormatError.unsupported(
                path: modelPath, context: "tensor '\(name)'", reason: "\(dataType) values read as integers")
        }
    }

    /// The number of bytes `n` elements take in raw_data, checked against the memory limit.
    func byteCount(_ n: Int) throws -> Int {
        guard let w = dataType.byteWidth else {
            throw ModelFormatError.unsupported(path: modelPath, context: "tensor '\(name)'", reason: "data type \(dataType)")
        }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: w)
        guard !overflow, bytes <= Runtime.maxMemory else {
            throw invalid("shape \(dims) of \(dataType) needs more than the memory limit of \(Runtime.maxMemory) bytes")
        }
        return bytes
    }

    /// The little-endian bytes of the elements when they are in raw_data or an external file
    /// (nil when a typed field holds them), checked to be exactly `n` elements.
    func stored(_ n: Int) throws -> [UInt8]? {
        let expected = try byteCount(n)
        if isExternal { return try readExternal(expected) }
        guard let raw = rawData else { return nil }
        guard raw.count == expected else { throw invalid("raw_data has \(raw.count) bytes, shape \(dims) of \(dataType) needs \(expected)") }
        return raw
    }

    /// A typed repeated field, checked to hold exactly `n` values.
    func typed<T>(_ values: [T], _ n: Int, _ field: String) throws -> [T] {
        guard values.count == n else { throw invalid("\(field) has \(values.count) values, shape \(dims) needs \(n)") }
        return values
    }

    /// Reads `expected` bytes from the external data file: `location` relative to the model's
    /// folder (absolute paths, '..' components and symbolic links leading out of the folder are
    /// refused), from `offset` (default 0), `length` bytes (default: to the end of the file).
    func readExternal(_ expected: Int) throws -> [UInt8] {
        func bad(_ reason: String) -> ModelFormatError { .externalData(path: modelPath, tensor: name, reason: reason) }
        var location = "", offset = 0, length: Int?
        for kv in externalData {
            switch kv.key {
            case "location": location = kv.value
            case "offset":
                guard let v = Int(kv.value), v >= 0 else { throw bad("offset '\(kv.value)' is not a byte count") }
                offset = v
            case "length":
                guard let v = Int(kv.value), v >= 0 else { throw bad("length '\(kv.value)' is not a byte count") }
                length = v
            default: break
            }
        }
        guard !location.isEmpty else { throw bad("no location") }
        guard !location.hasPrefix("/") else { throw bad("location '\(location)' is an absolute path") }
        guard !location.contains("\0") else { throw bad("location contains a NUL byte") }
        guard !location.split(separator: "/").contains("..") else { throw bad("location '\(location)' leaves the model's folder") }
        let file = folder + "/" + location
        guard let realFolder = realPath(folder) else { throw bad("cannot resolve the folder \(folder)") }
        guard let realFile = realPath(file) else { throw bad("\(file): no such file") }
        guard realFile.hasPrefix(realFolder == "/" ? "/" : realFolder + "/") else {
            throw bad("location '\(location)' resolves to \(realFile), outside the model's folder")
        }
        let size: Int
        do { size = try fileSize(realFile) } catch { throw bad("\(file): cannot read") }
        let count = length ?? (size - offset)
        guard count == expected else { throw bad("\(count) bytes where shape \(dims) of \(dataType) needs \(expected)") }
        guard offset <= size, count <= size - offset else {
            throw bad("bytes \(offset)..<\(offset + count) lie beyond the end of \(file) (\(size) bytes)")
        }
        let fd = open(realFile, O_RDONLY)
        guard fd >= 0 else { throw bad("\(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        var have = 0
        try out.withUnsafeMutableBytes { o in
            while have < count {
                let r = pread(fd, o.baseAddress! + have, count - have, off_t(offset + have))
                if r < 0 && errno == EINTR { continue }
                guard r > 0 else { throw bad("\(file): read stopped after \(have) of \(count) bytes") }
                have += r
            }
        }
        return out
    }
}

/// The canonical absolute path (symbolic links resolved), nil when it does not exist.
func realPath(_ path: String) -> String? {
    guard let p = realpath(path, nil) else { return nil }
    defer { free(p) }
    return String(cString: p)
}

/// Decodes `bytes.count / width` little-endian elements of `width` bytes each through `convert`.
func littleEndian<T>(_ bytes: [UInt8], width: Int, _ convert: (UInt64) -> T) -> [T] {
    let n = bytes.count / width
    var out = [T]()
    out.reserveCapacity(n)
    for i in 0..<n {
        var bits: UInt64 = 0
        for k in 0..<width { bits |= UInt64(bytes[i * width + k]) << (8 * UInt64(k)) }
        out.append(convert(bits))
    }
    return out
}

/// IEEE 754 binary16 → binary32 (exact: every half value, subnormals, infinities and NaNs).
func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    if exponent == 0 {
        // Subnormal or zero: mantissa × 2^-24.
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
}
