import Foundation
import MedVoxCore
import MedVoxIO

/// `--report DIR` and `--phi`, shared by the commands that can write a case report.
struct ReportFlags {
    /// Their lines in a `CommandSpec` text.
    static let options = """
        --report DIR              also write a report folder: report.html (self-contained), report.json, PNG figures
        --phi                     DICOM: include patient-identifying attributes in the report (left out by default)
        """
    let directory: String?
    let phi: Bool

    init(_ args: ParsedArguments) {
        directory = args.value("report")
        phi = args.flag("phi")
    }

    /// Creates the report folder (so outputs may be written into it before the report is).
    static func createFolder(_ dir: String) throws {
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw FileError.cannotWrite(path: dir, reason: error.localizedDescription)
        }
    }

    /// `path` relative to `dir` when it lies inside it, else absolute (what a report records so
    /// `medvox report` can find the files again).
    static func relative(_ path: String, to dir: String) -> String {
        let p = URL(fileURLWithPath: path).standardizedFileURL.path
        let d = URL(fileURLWithPath: dir).standardizedFileURL.path + "/"
        return p.hasPrefix(d) ? String(p.dropFirst(d.count)) : p
    }
}
