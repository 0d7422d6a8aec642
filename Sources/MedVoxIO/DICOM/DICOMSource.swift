import Foundation
import MedVoxCore

/// How to open DICOM input: which series, and how to assemble it.
public struct DICOMReadOptions: Sendable {
    /// SeriesInstanceUID to use when the input holds several series; a split part is chosen
    /// with "UID#label" (e.g. "1.2.3#e2"), as the series list prints it.
    public var seriesUID: String?
    public var assembly = DICOMAssemblyOptions()
    /// `metadata` lists every attribute of the series' first file (`info --tags`).
    public var listTags = false
    /// Include patient-identifying attributes and private values in that listing.
    public var phi = false
    public init(seriesUID: String? = nil, assembly: DICOMAssemblyOptions = .init(), listTags: Bool = false, phi: Bool = false) {
        self.seriesUID = seriesUID
        self.assembly = assembly
        self.listTags = listTags
        self.phi = phi
    }
}

extension DICOMDataset {
    /// Attributes that identify a patient, an institution or staff (after PS3.15 Table E.1-1's
    /// Basic Profile): hidden from listings unless asked for. Whole groups 0010 (patient),
    /// 0032 (study scheduling) and 0038 (visit) count too.
    static let identifyingTags: Set<DICOMTag> = [
        DICOMTag(0x0008, 0x0050), DICOMTag(0x0008, 0x0080), DICOMTag(0x0008, 0x0081), DICOMTag(0x0008, 0x0090),
        DICOMTag(0x0008, 0x0092), DICOMTag(0x0008, 0x0094), DICOMTag(0x0008, 0x1010), DICOMTag(0x0008, 0x1040),
        DICOMTag(0x0008, 0x1048), DICOMTag(0x0008, 0x1050), DICOMTag(0x0008, 0x1060), DICOMTag(0x0008, 0x1070),
        DICOMTag(0x0018, 0x1000), DICOMTag(0x0020, 0x0010), DICOMTag(0x0040, 0x0006), DICOMTag(0x0040, 0x0244),
        DICOMTag(0x0040, 0x0253), DICOMTag(0x0040, 0x1001),
    ]

    static func isIdentifying(_ t: DICOMTag) -> Bool {
        t.group == 0x0010 || t.group == 0x0032 || t.group == 0x0038 || identifyingTags.contains(t)
    }

    /// One line per top-level attribute: "(0028,0010) US Rows = 512". Identifying attributes and
    /// private values are replaced by "<hidden>" unless `phi`.
    public func listing(phi: Bool) -> [String] {
        tags.map { t in
            let e = elements[t]!
            let name = t.keyword ?? (t.isPrivate ? (t.element < 0x100 ? "PrivateCreator" : "Private") : "Unknown")
            let hidden = !phi && (Self.isIdentifying(t) || (t.isPrivate && t.element >= 0x100))
            return "\(t) \(e.vr.rawValue) \(name) = " + (hidden ? "<hidden>" : displayValue(t))
        }
    }
}

extension DICOMSeries {
    /// "UID" or "UID#label" for split parts: what `--series` takes.
    public var selector: String { splitLabel.isEmpty ? seriesInstanceUID : "\(seriesInstanceUID)#\(splitLabel)" }

    /// One line describing the series (no patient data).
    public var oneLine: String {
        "\(selector) (#\(seriesNumber.map(String.init) ?? "?") \(modality ?? "?") '\(seriesDescription ?? "")', \(slices.count) image(s))"
    }

    /// The series-list fields `info` prints (no patient data): UID, number, description,
    /// modality, image count, dims, spacing, transfer syntax; geometry errors as `error`.
    public func summary(_ options: DICOMAssemblyOptions = .init()) -> [(key: String, value: MetadataValue)] {
        var m: [(String, MetadataValue)] = [
            ("series_uid", .text(selector)),
            ("series_number", seriesNumber.map { .integer($0) } ?? .text("")),
            ("description", .text(seriesDescription ?? "")),
            ("modality", .text(modality ?? "")),
            ("images", .integer(slices.count)),
            ("transfer_syntax", .text("\(transferSyntax.uid) (\(transferSyntax.name))")),
        ]
        if !excluded.isEmpty { m.append(("excluded", .list(excluded.map { .text("\(($0.path as NSString).lastPathComponent): \($0.reason)") }))) }
        if slices.isEmpty { return m }
        do {
            let g = try geometry(options)
            m.append(("dims", .list(g.dims.map { .integer($0) })))
            m.append(("spacing", .list(g.spacing.map { .number($0) })))
            m.append(("orientation", .text(Orientation(affine: g.affine).codes)))
        } catch {
            m.append(("error", .text("\(error)")))
        }
        return m
    }
}

/// A DICOM file or folder opened as an `ImageSource`: one series, its geometry worked out from
/// the headers; voxels are decoded on `volume()`.
public struct DICOMSource: ImageSource {
    public let path: String
    public let scan: DICOMScan
    public let series: DICOMSeries
    public let geometry: DICOMGeometry
    public let options: DICOMReadOptions

    /// Scans `path` and picks the series (the only one, or `options.seriesUID`).
    public init(path: String, options: DICOMReadOptions = .init()) throws {
        try self.init(scan: try DICOMScanner.scan(path), path: path, options: options)
    }

    /// Opens a series of an existing scan.
    public init(scan: DICOMScan, path: String, options: DICOMReadOptions = .init()) throws {
        self.path = path
        self.options = options
        self.scan = scan
        series = try Self.pick(scan, path: path, uid: options.seriesUID)
        geometry = try series.geometry(options.assembly)
    }

    /// The series `uid` names, or the only series with images; else a `severalSeries` error
    /// listing them.
    public static func pick(_ scan: DICOMScan, path: String, uid: String?) throws -> DICOMSeries {
        let volumes = scan.series.filter { !$0.slices.isEmpty }
        if let uid {
            let m = volumes.filter { $0.selector == uid || $0.seriesInstanceUID == uid }
            if m.count == 1 { return m[0] }
            if m.isEmpty { throw DICOMError.seriesNotFound(path: path, uid: uid) }
            throw DICOMError.severalSeries(path: path, list: m.map(\.oneLine).joined(separator: "; "))
        }
        guard !volumes.isEmpty else {
            throw DICOMError.noImages(path: path, reason: "only localizers or excluded images")
        }
        guard volumes.count == 1 else {
            throw DICOMError.severalSeries(path: path, list: volumes.map(\.oneLine).joined(separator: "; "))
        }
        return volumes[0]
    }

    /// True when `path` is a folder or a file that parses as DICOM (Part 10 or raw data set).
    public static func isDICOM(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return false }
        if isDir.boolValue { return true }
        let lower = path.lowercased()
        if [".nii", ".nii.gz", ".hdr", ".hdr.gz", ".img", ".img.gz"].contains(where: { lower.hasSuffix($0) }) { return false }
        guard let fh = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? fh.close() }
        let head = (try? fh.read(upToCount: 132)) ?? Data()
        if head.count == 132 && head[128..<132] == Data("DICM".utf8) { return true }
        if lower.hasSuffix(".dcm") { return true }
        return (try? DICOMFile(path: path)) != nil
    }

    public var formatName: String { "DICOM (\(series.transferSyntax.name))" }
    public var dims: [Int] { geometry.dims }
    public var spacing: [Double] { geometry.spacing }
    public var affine: Affine { geometry.affine }
    public var storedType: ScalarType { geometry.storedType }

    public var metadata: [(key: String, value: MetadataValue)] {
        let h = series.header
        var m = series.summary(options.assembly).filter { !["dims", "spacing", "orientation"].contains($0.key) }
        m.append(("files", .integer(series.files.count)))
        if let man = h.string(.manufacturer) { m.append(("manufacturer", .text(man))) }
        if geometry.tiltDegrees > 0.01 { m.append(("gantry_tilt_deg", .number(geometry.tiltDegrees))) }
        if !geometry.scaling.isIdentity {
            m.append(("rescale", .text("slope \(geometry.scaling.slope), intercept \(geometry.scaling.intercept)")))
        }
        if !geometry.warnings.isEmpty { m.append(("warnings", .list(geometry.warnings.map { .text($0) }))) }
        if !scan.skipped.isEmpty { m.append(("skipped", .integer(scan.skipped.count))) }
        if options.listTags {
            let f = series.files[series.slices.first?.fileIndex ?? 0]
            m.append(("tags", .list((f.meta.listing(phi: true) + f.dataset.listing(phi: options.phi)).map { .text($0) })))
        }
        let others = scan.series.filter { $0.selector != series.selector && !$0.slices.isEmpty }
        if !others.isEmpty { m.append(("other_series", .list(others.map { .text($0.oneLine) }))) }
        return m
    }

    /// Decodes the series; warnings (gaps, tilt, duplicates…) go to stderr.
    public func volume() throws -> Volume {
        let (v, g) = try series.loadVolume(options.assembly)
        for w in g.warnings { warn(w) }
        return v
    }
}
