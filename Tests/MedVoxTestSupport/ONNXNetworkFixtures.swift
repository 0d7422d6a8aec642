import Foundation

/// The exported-network fixtures of `Fixtures/onnx/networks/` (made by
/// `Fixtures/onnx/export_networks.py`): one entry of `manifest.json` per ONNX file, with its
/// seeded input and onnxruntime's output as `.npy` files beside it.
///
/// ```swift
/// for net in try ONNXNetworkFixtures.all() {
///     let x = try net.input()                      // shape and float32 values
///     let expected = try net.expectedOutputs()[0]
///     // run net.path, compare within net.tolerance * net.outputs[0].scale
/// }
/// ```
public enum ONNXNetworkFixtures {
    /// The folder holding the manifest and the files.
    public static var folder: String { repositoryRoot + "/Fixtures/onnx/networks" }

    /// One output of a network: name, `.npy` file, shape, and scale (max |value|).
    public struct Output: Decodable, Sendable {
        public var name: String
        public var file: String
        public var shape: [Int]
        public var scale: Double
    }

    /// One network of the manifest.
    public struct Entry: Decodable, Sendable {
        /// The ONNX file name (relative to `folder`).
        public var file: String
        /// E.g. "monai.BasicUNet", "torch.PlainUNet3D".
        public var family: String
        /// The default-domain opset of the file.
        public var opset: Int
        /// "torchscript" (torch.onnx.export dynamo=False) or "dynamo".
        public var exporter: String
        /// The graph input's name, its `.npy` file and shape.
        public var inputName: String
        public var inputFile: String
        public var inputShape: [Int]
        /// The input's symbolic axes by index ("2": "i" …); empty when every size is fixed.
        public var dynamicAxes: [String: String]
        /// Files beside the ONNX file holding its weights (empty when inline).
        public var externalData: [String]
        public var outputs: [Output]
        /// Allowed |MedVox − onnxruntime| as a fraction of each output's scale.
        public var tolerance: Double

        enum CodingKeys: String, CodingKey {
            case file, family, opset, exporter, outputs, tolerance
            case inputName = "input_name", inputFile = "input", inputShape = "input_shape", dynamicAxes = "dynamic_axes"
            case externalData = "external_data"
        }

        /// The ONNX file's path.
        public var path: String { ONNXNetworkFixtures.folder + "/" + file }
        /// The file name without `.onnx`, for messages.
        public var name: String { String(file.dropLast(5)) }

        /// The seeded input.
        public func input() throws -> NPYArray { try NPYArray.read(ONNXNetworkFixtures.folder + "/" + inputFile) }

        /// onnxruntime's outputs, in `outputs` order.
        public func expectedOutputs() throws -> [NPYArray] {
            try outputs.map { try NPYArray.read(ONNXNetworkFixtures.folder + "/" + $0.file) }
        }
    }

    struct Manifest: Decodable { var networks: [Entry] }

    /// Every network of the manifest, in its order.
    public static func all() throws -> [Entry] {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json"))
        return try JSONDecoder().decode(Manifest.self, from: data).networks
    }
}

/// A float32 array from a NumPy `.npy` file (format 1.0–3.0, little-endian `<f4`, C order), as
/// the fixture scripts write them with `np.save`.
public struct NPYArray: Sendable {
    public var shape: [Int]
    public var values: [Float]

    public struct Unsupported: Error, CustomStringConvertible {
        public var path: String, reason: String
        public var description: String { "\(path): \(reason)" }
    }

    public static func read(_ path: String) throws -> NPYArray {
        let d = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func fail(_ r: String) -> Unsupported { Unsupported(path: path, reason: r) }
        guard d.count >= 10, d[0] == 0x93, Array(d[1..<6]) == Array("NUMPY".utf8) else { throw fail("not a .npy file") }
        let major = d[6]
        let headerLength = major == 1 ? Int(d[8]) | Int(d[9]) << 8 : Int(d[8]) | Int(d[9]) << 8 | Int(d[10]) << 16 | Int(d[11]) << 24
        let start = major == 1 ? 10 : 12
        guard start + headerLength <= d.count else { throw fail("truncated header") }
        let header = String(decoding: d[start..<(start + headerLength)], as: UTF8.self)
        guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False") else {
            throw fail("only little-endian float32 in C order is read, header \(header)")
        }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw fail("no shape in header \(header)")
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *), body = start + headerLength
        guard d.count - body == 4 * count else { throw fail("\(d.count - body) bytes of data for shape \(shape)") }
        let values = (0..<count).map { i -> Float in
            let o = body + 4 * i
            return Float(bitPattern: UInt32(d[o]) | UInt32(d[o + 1]) << 8 | UInt32(d[o + 2]) << 16 | UInt32(d[o + 3]) << 24)
        }
        return NPYArray(shape: shape, values: values)
    }
}
