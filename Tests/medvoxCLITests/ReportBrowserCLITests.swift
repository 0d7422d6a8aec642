import Foundation
import MedVoxIO
import MedVoxTestSupport
import XCTest

/// The case reports and the batch index that the binary writes, as a person meets them: opened in
/// Debian's chromium (headless) by Tools/reports/check_in_chromium.sh — no console message, no
/// network request, a screenshot that is not blank, one printed page per case report — and
/// checked for accessibility basics (alt text, table headers, label names beside colour swatches,
/// text contrast of at least 4.5:1).
final class ReportBrowserCLITests: XCTestCase {
    typealias cli = BatchCLITests.cli

    /// A batch with the shipped segmentation and classification models over a NIfTI case, a
    /// DICOM case and a broken file (a failed row in the index), made once for the class: the root
    /// folder (the batch output is `root/out`).
    static let batch: Result<String, Error> = Result { try makeBatch() }

    static func makeBatch() throws -> String {
        let root = try cli.temporaryFolder()
        let study = root + "/study"
        let fm = FileManager.default
        try fm.createDirectory(atPath: study + "/mr", withIntermediateDirectories: true)
        try fm.copyItem(atPath: cli.example, toPath: study + "/head.nii.gz")
        for name in try fm.contentsOfDirectory(atPath: CLITests.fixtures + "/dicom/mr") where name.hasSuffix(".dcm") {
            try fm.copyItem(atPath: "\(CLITests.fixtures)/dicom/mr/\(name)", toPath: "\(study)/mr/\(name)")
        }
        try Data(repeating: 7, count: 500).write(to: URL(fileURLWithPath: study + "/broken.nii"))
        let r = try cli.medvox(["batch", study, "-o", root + "/out", "--segment", "brain-tissue", "--classify", "brain-qc", "--quiet"])
        guard r.status == 1, r.stderr.contains("1 of 3 case(s) failed") else { throw BatchFailed(description: "medvox batch exited \(r.status): \(r.stderr)") }
        return root
    }

    struct BatchFailed: Error, CustomStringConvertible { var description: String }

    override class func tearDown() {
        if case let .success(root) = batch { try? FileManager.default.removeItem(atPath: root) }
        super.tearDown()
    }

    /// The batch index and every case's report.html.
    func pages() throws -> (root: String, index: String, reports: [String]) {
        let root = try Self.batch.get()
        let out = root + "/out"
        let reports = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
            .map { "\(out)/\($0)/report.html" }.filter { FileManager.default.fileExists(atPath: $0) }
        XCTAssertEqual(reports.count, 2, "one report per case")
        return (root, out + "/index.html", reports)
    }

    func testReportsAndIndexInChromium() throws {
        for tool in ["/usr/bin/chromium", "/usr/bin/pdfinfo", "/usr/bin/pdftotext"] {
            guard FileManager.default.isExecutableFile(atPath: tool) else {
                return XCTFail("\(tool) is missing: run Tools/setup.sh (it installs chromium and poppler-utils)")
            }
        }
        let (root, index, reports) = try pages()
        let script = URL(fileURLWithPath: CLITests.fixtures).deletingLastPathComponent().appendingPathComponent("Tools/reports/check_in_chromium.sh").path
        let shots = root + "/chromium"
        let r = try Subprocess.run("/bin/bash", [script, shots, index] + reports)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.stdout.components(separatedBy: "ok: ").count - 1, 1 + reports.count, r.output)

        // The check fails on a page that logs to the console and loads from the network.
        let control = root + "/control/bad.html"
        try FileManager.default.createDirectory(atPath: root + "/control", withIntermediateDirectories: true)
        try """
            <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>control</title></head><body><p>control</p>
            <img alt="remote" src="http://example.invalid/pixel.png"><script>console.warn("control warning")</script></body></html>
            """.write(toFile: control, atomically: true, encoding: .utf8)
        let bad = try Subprocess.run("/bin/bash", [script, shots, control])
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertTrue(bad.stdout.contains("control warning") && bad.stdout.contains("console messages"), bad.output)
        XCTAssertTrue(bad.stdout.contains("network request: http://example.invalid/pixel.png"), bad.output)

        for page in [index] + reports {
            let name = URL(fileURLWithPath: page).deletingLastPathComponent().lastPathComponent + "_"
                + URL(fileURLWithPath: page).deletingPathExtension().lastPathComponent
            // A screenshot with real content: many colours, and far from one flat tone.
            let shot = try PNG.read("\(shots)/\(name).png")
            XCTAssertEqual([shot.width, shot.height], [1200, 1600], name)
            let stats = Self.pixelStatistics(shot)
            XCTAssertGreaterThan(stats.colours, 50, "\(name): the screenshot looks blank")
            XCTAssertGreaterThan(stats.nonWhite, 0.01, "\(name): the screenshot looks blank")
            XCTAssertGreaterThan(stats.sd, 5, "\(name): the screenshot looks blank")
            // The print layout: one page per case report, with its text readable (extractable).
            let info = try Subprocess.run("/usr/bin/pdfinfo", ["\(shots)/\(name).pdf"])
            XCTAssertEqual(info.status, 0, info.output)
            let pagesLine = info.stdout.split(separator: "\n").first { $0.hasPrefix("Pages:") }
            let count = pagesLine.flatMap { Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) } ?? 0
            let text = try Subprocess.run("/usr/bin/pdftotext", ["-layout", "\(shots)/\(name).pdf", "-"]).stdout
            if page == index {
                XCTAssertGreaterThanOrEqual(count, 1, info.stdout)
                XCTAssertTrue(text.contains("MedVox batch"), text)
                for report in reports {
                    XCTAssertTrue(text.contains(URL(fileURLWithPath: report).deletingLastPathComponent().lastPathComponent), text)
                }
            } else {
                XCTAssertEqual(count, 1, "\(name): the report prints on \(count) pages")
                for needle in ["MedVox report", "Quality warnings", "Segmentation", "Classification", "Figures", "CSF", "Voxels"] {
                    XCTAssertTrue(text.contains(needle), "\(name).pdf lacks '\(needle)':\n\(text)")
                }
            }
        }
    }

    /// Distinct RGB colours, the fraction of pixels that are not near-white, and the standard
    /// deviation of the grey level.
    static func pixelStatistics(_ image: RasterImage) -> (colours: Int, nonWhite: Double, sd: Double) {
        let c = image.channels
        var colours = Set<UInt32>()
        var nonWhite = 0
        var sum = 0.0, sum2 = 0.0
        let n = image.width * image.height
        for p in 0..<n {
            let rgb = c >= 3 ? (0..<3).map { Int(image.samples[p * c + $0]) } : Array(repeating: Int(image.samples[p * c]), count: 3)
            colours.insert(UInt32(rgb[0] << 16 | rgb[1] << 8 | rgb[2]))
            let grey = Double(rgb[0] + rgb[1] + rgb[2]) / 3
            if grey < 240 { nonWhite += 1 }
            sum += grey
            sum2 += grey * grey
        }
        let mean = sum / Double(n)
        return (colours.count, Double(nonWhite) / Double(n), (sum2 / Double(n) - mean * mean).squareRoot())
    }

    func testReportsMeetAccessibilityBasics() throws {
        let (_, index, reports) = try pages()
        for page in [index] + reports {
            let html = try String(contentsOfFile: page, encoding: .utf8)
            XCTAssertEqual(page == index, html.contains("class=\"failed\""), "the index has a failed row: \(page)")
            XCTAssertEqual(try Self.accessibilityProblems(html), [], page)
        }
        // The check finds each kind of problem.
        let bad = """
            <html><head><style>body{color:#222;background:#fff}.faint{color:#999}.swatch{background:#f00}</style></head><body>
            <img src="data:image/png;base64,AA=="><img alt="" src="x.png"><table><tr><td>1</td></tr></table><table><tr><th></th></tr></table>
            <p class="faint">faint</p><span class="swatch"></span> <b>CSF</b></body></html>
            """
        let problems = try Self.accessibilityProblems(bad)
        XCTAssertEqual(problems.count, 7, "\(problems)")
        for kind in ["no alt text", "not embedded", "no header", "empty header", "swatch", "contrast"] {
            XCTAssertTrue(problems.contains { $0.contains(kind) }, "\(kind) not found in \(problems)")
        }
    }

    /// What a page gets wrong among: images without alt text or not embedded, tables without
    /// header cells, empty header cells, colour swatches without their label's name as text right after them, and
    /// CSS text colours under 4.5:1 contrast (WCAG 2 relative luminance) against the page's
    /// text backgrounds.
    static func accessibilityProblems(_ html: String) throws -> [String] {
        var problems: [String] = []
        func matches(_ pattern: String, _ s: String) throws -> [[String]] {
            let re = try NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators, .caseInsensitive])
            return re.matches(in: s, range: NSRange(s.startIndex..., in: s)).map { m in
                (0..<m.numberOfRanges).map { Range(m.range(at: $0), in: s).map { String(s[$0]) } ?? "" }
            }
        }
        for img in try matches("<img\\b[^>]*>", html).map({ $0[0] }) {
            let alt = try matches("\\balt=\"([^\"]*)\"", img).first?[1] ?? ""
            if alt.trimmingCharacters(in: .whitespaces).isEmpty { problems.append("image with no alt text: \(img.prefix(60))") }
            if try matches("\\bsrc=\"data:image/", img).isEmpty { problems.append("image not embedded: \(img.prefix(60))") }
        }
        for table in try matches("<table\\b.*?</table>", html).map({ $0[0] }) where !table.contains("<th") {
            problems.append("table with no header cells: \(table.prefix(60))")
        }
        for th in try matches("<th\\b[^>]*>(.*?)</th>", html)
        where th[1].replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression).trimmingCharacters(in: .whitespaces).isEmpty {
            problems.append("empty header cell: \(th[0])")
        }
        for m in try matches("<span class=\"swatch\"[^>]*></span>([^<]*)", html)
        where m[1].trimmingCharacters(in: .whitespaces).isEmpty {
            problems.append("colour swatch without its label name: \(m[0].prefix(80))")
        }
        // Text and background colours by CSS rule. Class rules that match no element of the page,
        // or only empty ones (colour bars and swatches), carry no text.
        let css = try matches("<style>(.*?)</style>", html).map { $0[1] }.joined()
        var rules: [(selector: String, color: String?, background: String?)] = []
        for m in try matches("([^{}]+)\\{([^{}]*)\\}", css) {
            var color: String?, background: String?
            for decl in m[2].split(separator: ";") {
                let kv = decl.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2, let hex = try matches("#[0-9a-f]{3,6}\\b", kv[1]).first?[0] else { continue }
                if kv[0] == "color" { color = hex }
                if kv[0] == "background" || kv[0] == "background-color" { background = hex }
            }
            for selector in m[1].split(separator: ",") { rules.append((selector.trimmingCharacters(in: .whitespacesAndNewlines), color, background)) }
        }
        func carriesText(_ selector: String) throws -> Bool {
            let last = selector.split(separator: " ").last.map(String.init) ?? selector
            let classes = last.split(separator: ".", omittingEmptySubsequences: false).dropFirst().map(String.init)
            guard !classes.isEmpty else { return true }
            let elements = try matches("<(\\w+) class=\"([^\"]*)\"[^>]*>(</\\1>)?", html).filter { m in
                let have = Set(m[2].split(separator: " ").map(String.init))
                return classes.allSatisfy(have.contains)
            }
            return elements.contains { $0[3].isEmpty && $0[1].lowercased() != "img" }
        }
        let body = rules.first { $0.selector == "body" }
        let bodyColor = body?.color ?? "#000", bodyBackground = body?.background ?? "#fff"
        var texts: [(String, String)] = [("body", bodyColor)]
        var backgrounds: [(String, String)] = [("body", bodyBackground)]
        if !rules.contains(where: { $0.selector == "a" && $0.color != nil }) { texts.append(("a (browser default)", "#0000ee")) }
        for r in rules where r.selector != "body" {
            guard try carriesText(r.selector) else { continue }
            if let c = r.color { texts.append((r.selector, c)) }
            if let b = r.background { backgrounds.append((r.selector, b)) }
        }
        for (ts, t) in texts {
            for (bs, b) in backgrounds {
                let ratio = contrast(t, b)
                if ratio < 4.5 { problems.append(String(format: "contrast %.2f:1 of %@ (%@) on %@ (%@)", ratio, ts, t, bs, b)) }
            }
        }
        return problems
    }

    /// WCAG 2 contrast ratio of two #rgb / #rrggbb colours: (L1 + 0.05) / (L2 + 0.05) with L the
    /// relative luminance of the linearised sRGB components.
    static func contrast(_ a: String, _ b: String) -> Double {
        func luminance(_ hex: String) -> Double {
            var h = String(hex.dropFirst())
            if h.count == 3 { h = h.map { "\($0)\($0)" }.joined() }
            let v = Int(h, radix: 16) ?? 0
            let lin = [v >> 16, (v >> 8) & 255, v & 255].map { c -> Double in
                let s = Double(c) / 255
                return s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4)
            }
            return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
        }
        let (x, y) = (luminance(a), luminance(b))
        return (max(x, y) + 0.05) / (min(x, y) + 0.05)
    }
}
