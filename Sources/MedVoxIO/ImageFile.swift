import Foundation
import MedVoxCore

/// A value in an image's format-specific metadata (what `medvox info` prints).
public enum MetadataValue: Sendable, Equatable {
    case text(String)
    case integer(Int)
    case number(Double)
    case list([MetadataValue])

    /// JSON text of the value.
    public var json: String {
        switch self {
        case let .text(s): return jsonString(s)
        case let .integer(i): return String(i)
        case let .number(d): return jsonNumber(d)
        case let .list(l): return "[" + l.map(\.json).joined(separator: ", ") + "]"
        }
    }

    /// Plain text for the human-readable listing.
    public var plain: String {
        switch self {
        case let .text(s): return s
        case let .integer(i): return String(i)
        case let .number(d): return String(format: "%.6g", d)
        case let .list(l): return l.map(\.plain).joined(separator: " ")
        }
    }
}

/// An opened image: geometry and metadata are known, voxels are read on `volume()`.
/// Each input format (NIfTI now, DICOM later) provides one.
public protocol ImageSource {
    /// What was opened (file or folder).
    var path: String { get }
    /// Format name for display, e.g. "NIfTI-1 (gzip)".
    var formatName: String { get }
    /// Volume dims ([nx, ny, nz] or with frames), as `volume()` will return them.
    var dims: [Int] { get }
    /// Voxel size in mm.
    var spacing: [Double] { get }
    /// Voxel → RAS+ mm.
    var affine: Affine { get }
    var storedType: ScalarType { get }
    /// Format-specific fields in display order.
    var metadata: [(key: String, value: MetadataValue)] { get }
    /// Reads the voxels.
    func volume() throws -> Volume
}

extension NIfTIFile {
    public var formatName: String {
        "NIfTI-\(header.version)" + (header.isPair ? " (.hdr/.img pair)" : "") + (isHeaderCompressed ? " (gzip)" : "")
    }
    public var metadata: [(key: String, value: MetadataValue)] {
        let h = header
        let units = NIfTIUnits.spatialNames[h.xyztUnits & 7] ?? "code \(h.xyztUnits & 7)"
        var m: [(String, MetadataValue)] = [
            ("nifti_version", .integer(h.version)),
            ("byte_order", .text(h.byteOrder == .little ? "little-endian" : "big-endian")),
            ("dim", .list(h.dim.map { .integer($0) })),
            ("pixdim", .list(h.pixdim.map { .number($0) })),
            ("datatype_code", .integer(h.datatype)),
            ("vox_offset", .integer(dataOffset)),
            ("scl_slope", .number(h.sclSlope)),
            ("scl_inter", .number(h.sclInter)),
            ("spatial_units", .text(units)),
            ("qform_code", .text("\(h.qformCode) (\(NIfTIXform.names[h.qformCode] ?? "?"))")),
            ("sform_code", .text("\(h.sformCode) (\(NIfTIXform.names[h.sformCode] ?? "?"))")),
            ("affine_source", .text(affine.source.rawValue)),
            ("description", .text(h.descrip)),
        ]
        if h.intentCode != 0 { m.append(("intent_code", .integer(h.intentCode))) }
        if !h.extensions.isEmpty {
            m.append(("extensions", .list(h.extensions.map { .text("code \($0.code), \($0.size) bytes") })))
        }
        if let t = timeStep { m.append(("time_step_s", .number(t))) }
        return m
    }
}

/// The one entry point commands use to load and save volumes, by format.
///
/// ```swift
/// let v = try ImageFile.read("t1.nii.gz")
/// try ImageFile.write(mask, to: "mask.nii.gz", as: .uint8)
/// ```
public enum ImageFile {
    /// Opens an image and reads its header (not its voxels).
    ///
    /// Dispatch: a folder, or a file that is DICOM (Part 10 "DICM" marker, .dcm, or a parsable raw
    /// data set) → `DICOMSource` (one series: the only one, or `dicom.seriesUID`); otherwise NIfTI
    /// (.nii, .nii.gz, .hdr, .hdr.gz, or any file whose header says NIfTI).
    public static func open(_ path: String, dicom: DICOMReadOptions = .init()) throws -> any ImageSource {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FileError.cannotRead(path: path, reason: "no such file or folder")
        }
        if isDir.boolValue || DICOMSource.isDICOM(path) { return try DICOMSource(path: path, options: dicom) }
        return NIfTISource(try NIfTIFile.open(path))
    }

    /// Reads a whole image as a `Volume`.
    public static func read(_ path: String, dicom: DICOMReadOptions = .init()) throws -> Volume {
        try open(path, dicom: dicom).volume()
    }

    /// Output formats `write` accepts, by file name.
    public static let writableSuffixes = [".nii", ".nii.gz"]

    /// Writes `volume` to `path` atomically, choosing the format from the name (.nii, .nii.gz),
    /// stored as `type` (nil: the volume's stored type).
    public static func write(
        _ volume: Volume, to path: String, as type: ScalarType? = nil, options: NIfTIWriteOptions? = nil
    ) throws {
        var o = options ?? NIfTIWriteOptions()
        if let type { o.datatype = type }
        try NIfTIWriter.write(volume, to: path, options: o)
    }
}

/// `NIfTIFile` seen as an `ImageSource`.
public struct NIfTISource: ImageSource {
    public let file: NIfTIFile
    public init(_ file: NIfTIFile) { self.file = file }
    public var path: String { file.path }
    public var formatName: String { file.formatName }
    public var dims: [Int] { file.volumeDims }
    public var spacing: [Double] { file.spacing }
    public var affine: Affine { file.affine.affine }
    public var storedType: ScalarType { file.storedType }
    public var metadata: [(key: String, value: MetadataValue)] { file.metadata }
    public func volume() throws -> Volume { try file.volume() }
}
