import Foundation
import MedVoxCore
import MedVoxIO

/// Errors of the report writer and of `medvox report`.
public enum ReportError: MedVoxError {
    case notAReportFolder(path: String, reason: String)
    public var description: String {
        switch self {
        case let .notAReportFolder(path, reason): return "\(path): not a MedVox report folder: \(reason)"
        }
    }
}

/// Writes a report folder: the figures (PNG), `report.json` and the self-contained
/// `report.html`, each atomically; and rebuilds the HTML (and the figures, when the image and mask
/// it names are there) from a saved folder.
public enum ReportWriter {
    public static let jsonName = "report.json"
    public static let htmlName = "report.html"

    public static func write(_ report: CaseReport, figures: [String: RasterImage], to dir: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw FileError.cannotWrite(path: dir, reason: error.localizedDescription)
        }
        var pngs: [String: [UInt8]] = [:]
        for (name, image) in figures {
            let bytes = try PNG.encode(image, path: "\(dir)/\(name)")
            try AtomicFile.write(bytes, to: "\(dir)/\(name)")
            pngs[name] = bytes
        }
        // Figures written earlier (a rebuild without the image) are embedded from disk.
        for f in report.figures where pngs[f.file] == nil {
            if let d = FileManager.default.contents(atPath: "\(dir)/\(f.file)") { pngs[f.file] = [UInt8](d) }
        }
        try AtomicFile.write([UInt8](try report.encoded()), to: "\(dir)/\(jsonName)")
        try AtomicFile.write(HTMLReport.render(report, images: pngs), to: "\(dir)/\(htmlName)")
    }

    /// Reads a saved `report.json`.
    public static func read(_ dir: String) throws -> CaseReport {
        let path = "\(dir)/\(jsonName)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReportError.notAReportFolder(path: dir, reason: "no \(jsonName)")
        }
        do {
            let r = try JSONDecoder().decode(CaseReport.self, from: data)
            guard r.schemaVersion <= CaseReport.currentSchemaVersion else {
                throw ReportError.notAReportFolder(path: dir, reason: "schema version \(r.schemaVersion) is newer than this medvox reads")
            }
            return r
        } catch let e as ReportError {
            throw e
        } catch {
            throw ReportError.notAReportFolder(path: dir, reason: "\(jsonName) does not match the report schema")
        }
    }

    /// Rebuilds `report.html` from `report.json`; the overlay figures are redrawn when the image
    /// and mask the report names (relative to the folder) can be read, otherwise the saved PNGs
    /// are embedded as they are.
    public static func rebuild(_ dir: String) throws {
        var report = try read(dir)
        var figures: [String: RasterImage] = [:]
        if let imageFile = report.input.imageFile, let maskFile = report.segmentation?.maskFile,
            let image = try? ImageFile.read(resolve(imageFile, in: dir)), let mask = try? ImageFile.read(resolve(maskFile, in: dir)),
            let r = try? SliceRenderer(volume: image.frames > 1 ? image.frame(0) : image, overlay: mask)
        {
            for f in report.figures {
                if let plane = Plane.allCases.first(where: { f.file.hasSuffix("-\($0.rawValue).png") }) {
                    figures[f.file] = r.montage(plane, count: 9).raster
                }
            }
        }
        // Figures that are neither redrawn nor on disk are dropped rather than linked broken.
        report.figures = report.figures.filter {
            figures[$0.file] != nil || FileManager.default.fileExists(atPath: "\(dir)/\($0.file)")
        }
        try write(report, figures: figures, to: dir)
    }

    static func resolve(_ file: String, in dir: String) -> String {
        file.hasPrefix("/") ? file : "\(dir)/\(file)"
    }
}
