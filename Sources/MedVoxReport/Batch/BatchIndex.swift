import Foundation
import MedVoxCore

/// The study-level outputs built from the case records in an output folder: `summary.csv`,
/// `summary.json` and `index.html` (one row per case: thumbnail, key figures, status, links).
/// Shards writing to one folder merge by rebuilding these (`medvox batch --merge OUT_DIR`).
public enum BatchIndex {
    /// Every case record under `outDir`: finished cases, then failures not since redone.
    public static func records(_ outDir: String) -> [CaseRecord] {
        let fm = FileManager.default
        var done: [String: CaseRecord] = [:]
        for name in (try? fm.contentsOfDirectory(atPath: outDir)) ?? [] where !name.hasPrefix(".") {
            if let d = fm.contents(atPath: "\(outDir)/\(name)/case.json"), let r = try? JSONDecoder().decode(CaseRecord.self, from: d) {
                done[r.id] = r
            }
        }
        var failed: [CaseRecord] = []
        for name in (try? fm.contentsOfDirectory(atPath: "\(outDir)/.failed")) ?? [] where name.hasSuffix(".json") {
            if let d = fm.contents(atPath: "\(outDir)/.failed/\(name)"), let r = try? JSONDecoder().decode(CaseRecord.self, from: d),
                done[r.id] == nil
            {
                failed.append(r)
            }
        }
        return (Array(done.values) + failed).sorted { $0.id < $1.id }
    }

    /// The cases under `outDir` whose report includes patient-identifying data (made with `--phi`).
    public static func casesWithPHI(_ outDir: String) -> [String] {
        records(outDir).filter { r in
            guard r.status == "done", let d = FileManager.default.contents(atPath: "\(outDir)/\(r.id)/\(ReportWriter.jsonName)"),
                let report = try? JSONDecoder().decode(CaseReport.self, from: d)
            else { return false }
            return report.input.phiIncluded
        }.map(\.id)
    }

    /// Writes summary.csv, summary.json and index.html into `outDir` (atomically) and returns the
    /// records they list.
    @discardableResult
    public static func write(_ outDir: String, skipped: [(path: String, reason: String)] = []) throws -> [CaseRecord] {
        let rs = records(outDir)
        try AtomicFile.write(csv(rs), to: "\(outDir)/summary.csv")
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct Summary: Encodable {
            var schemaVersion = 1
            var cases: Int
            var done: Int
            var failed: Int
            var records: [CaseRecord]
            var skipped: [[String: String]]
        }
        let summary = Summary(
            cases: rs.count, done: rs.filter { $0.status == "done" }.count, failed: rs.filter { $0.status != "done" }.count,
            records: rs, skipped: skipped.map { ["input": $0.path, "reason": $0.reason] })
        try AtomicFile.write([UInt8](try e.encode(summary)), to: "\(outDir)/summary.json")
        try AtomicFile.write(html(rs, outDir: outDir, skipped: skipped), to: "\(outDir)/index.html")
        return rs
    }

    static func labelColumns(_ rs: [CaseRecord]) -> [String] {
        Array(Set(rs.flatMap { $0.volumesML?.keys.map { $0 } ?? [] })).sorted()
    }

    /// One row per case; a column per segmentation label (mL).
    public static func csv(_ rs: [CaseRecord]) -> String {
        let labels = labelColumns(rs)
        func field(_ s: String) -> String {
            s.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var lines = [(["case", "input", "status", "error", "seconds", "top_class", "confidence"] + labels.map { "\($0)_mL" } + ["warnings"]).map(field).joined(separator: ",")]
        for r in rs {
            var row = [r.id, r.input, r.status, r.error ?? "", String(format: "%.2f", r.seconds), r.topClass ?? "", r.confidence.map { String(format: "%.4f", $0) } ?? ""]
            row += labels.map { l in r.volumesML?[l].map { String(format: "%.3f", $0) } ?? "" }
            row.append(r.warnings.joined(separator: ";"))
            lines.append(row.map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func html(_ rs: [CaseRecord], outDir: String, skipped: [(path: String, reason: String)]) -> String {
        let labels = labelColumns(rs)
        let done = rs.filter { $0.status == "done" }.count
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>MedVox batch</title><style>\(HTMLReport.style)"
        h += " .failed{background:#fde8e8} img.thumb{height:96px;border:0}</style></head><body>\n"
        h += "<h1>MedVox batch</h1>\n<p>\(rs.count) case(s): \(done) done, \(rs.count - done) failed. "
        h += "Summary: <a href=\"summary.csv\">summary.csv</a>, <a href=\"summary.json\">summary.json</a>.</p>\n"
        h += "<table><tr><th>Preview</th><th>Case</th><th>Input</th><th>Status</th><th>Top class</th>"
        for l in labels { h += "<th>\(htmlEscape(l)) (mL)</th>" }
        h += "<th>Warnings</th><th>Time</th></tr>\n"
        for r in rs {
            let ok = r.status == "done"
            h += "<tr\(ok ? "" : " class=\"failed\"")><td>"
            if ok, let png = FileManager.default.contents(atPath: "\(outDir)/\(r.id)/thumbnail.png") {
                h += "<a href=\"\(htmlEscape(r.id))/report.html\"><img class=\"thumb\" alt=\"Axial slice of \(htmlEscape(r.id))\(r.volumesML == nil ? "" : " with its segmentation")\" src=\"data:image/png;base64,\(png.base64EncodedString())\"></a>"
            }
            h += "</td><td>" + (ok ? "<a href=\"\(htmlEscape(r.id))/report.html\">\(htmlEscape(r.id))</a>" : htmlEscape(r.id)) + "</td>"
            h += "<td>\(htmlEscape(r.input))</td><td>" + (ok ? "done" : "failed: \(htmlEscape(r.error ?? ""))") + "</td>"
            h += "<td>" + (r.topClass.map { "\(htmlEscape($0)) (\(String(format: "%.0f", 100 * (r.confidence ?? 0)))%)" } ?? "") + "</td>"
            for l in labels { h += "<td class=\"num\">" + (r.volumesML?[l].map { String(format: "%.1f", $0) } ?? "") + "</td>" }
            h += "<td>\(htmlEscape(r.warnings.joined(separator: ", ")))</td><td class=\"num\">\(String(format: "%.1f", r.seconds)) s</td></tr>\n"
        }
        h += "</table>\n"
        if !skipped.isEmpty {
            h += "<h2>Skipped inputs</h2>\n<table><tr><th>Input</th><th>Reason</th></tr>\n"
            for s in skipped { h += "<tr><td>\(htmlEscape(s.path))</td><td>\(htmlEscape(s.reason))</td></tr>\n" }
            h += "</table>\n"
        }
        return h + "</body></html>\n"
    }
}
