import Foundation

/// Escapes text for HTML element content and attribute values (`&`, `<`, `>`, `"`, `'`), so
/// strings from files (DICOM descriptions, names, paths) always render as text.
public func htmlEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default:
            // Control characters other than tab/newline are dropped.
            if c.value < 0x20 && c != "\n" && c != "\t" { continue }
            out.unicodeScalars.append(c)
        }
    }
    return out
}

/// Renders a `CaseReport` as one self-contained HTML page: inline CSS, figures embedded as
/// base64 PNG data, no scripts and no external resources, so it opens offline in any browser and
/// prints on one page. Accessibility: every figure has alt text, every table has headers, label
/// colours always appear beside the label's name, and text colours keep a contrast of at least
/// 4.5:1 (WCAG AA) against their backgrounds.
public enum HTMLReport {
    public static let style = """
        body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
        h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
        table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;font-size:.92em}
        th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
        .meta{color:#666;font-size:.9em}.warn{background:#fff4e0;border-left:4px solid #e69500;padding:.4em .8em;margin:.3em 0}
        .ok{background:#eef8ee;border-left:4px solid #3a3;padding:.4em .8em}
        .bar{background:#4a7bd0;height:1em;display:inline-block;vertical-align:middle}.bar.top{background:#d0632a}
        .swatch{display:inline-block;width:1em;height:1em;border:1px solid #444;vertical-align:middle;margin-right:.3em}
        .bar,.swatch{-webkit-print-color-adjust:exact;print-color-adjust:exact}.label{white-space:nowrap}
        figure{margin:1em 0;page-break-inside:avoid}figure img{max-width:100%;image-rendering:pixelated;border:1px solid #ccc}
        figcaption{font-size:.9em;color:#444}code{font-size:.9em}a{color:#1a56a8}
        @page{size:A4;margin:9mm}
        @media print{body{margin:0;max-width:none;padding:0;font-size:7.5pt}h1{font-size:13pt;margin:0}
        h2{font-size:9pt;margin:5pt 0 2pt;page-break-after:avoid}p{margin:3pt 0}td,th{padding:1pt 3pt;font-size:7.5pt}
        .facts{columns:2;column-gap:6mm}section{break-inside:avoid}.facts table{margin:0}.facts section:first-child h2{margin-top:0}
        .warn,.ok{padding:2pt 5pt;margin:2pt 0}.bar{height:.8em}
        .figures{display:flex;gap:3mm;align-items:flex-start}figure{flex:1 1 0;margin:0;min-width:0}figure img{width:100%}
        figcaption{font-size:6.5pt}}
        """

    /// - Parameter images: PNG bytes by figure file name (figures missing here are linked by name).
    public static func render(_ r: CaseReport, images: [String: [UInt8]]) -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        h += "<title>MedVox report: \(htmlEscape(r.input.name))</title><style>\(style)</style></head><body>\n"
        h += "<h1>MedVox report: \(htmlEscape(r.input.name))</h1>\n"
        h += "<p class=\"meta\">Generated \(htmlEscape(r.generatedAt)) by medvox \(htmlEscape(r.medvoxVersion)); report schema \(r.schemaVersion). Research use: not a medical device.</p>\n"

        h += "<h2>Quality warnings</h2>\n"
        if r.warnings.isEmpty {
            h += "<p class=\"ok\">No warnings.</p>\n"
        } else {
            for w in r.warnings { h += "<div class=\"warn\"><b>\(htmlEscape(w.code))</b>: \(htmlEscape(w.message))</div>\n" }
        }

        // The facts print in two columns (`style`), so that a report fits one page.
        h += "<div class=\"facts\">\n<section><h2>Input</h2>\n<table>\n"
        let i = r.input
        var rows: [(String, String)] = [
            ("Name", i.name), ("Format", i.format), ("Modality", i.modality ?? "unknown"),
            ("Dimensions", i.dims.map(String.init).joined(separator: " × ")),
            ("Voxel size (mm)", i.spacing.map { fmt($0, 3) }.joined(separator: " × ")),
            ("Orientation", i.orientation), ("Stored type", i.datatype),
        ]
        for k in i.acquisition.keys.sorted() { rows.append((k, i.acquisition[k]!)) }
        rows.append(("Patient-identifying data", i.phiIncluded ? "included (--phi)" : "left out"))
        for (k, v) in rows { h += "<tr><th>\(htmlEscape(k))</th><td>\(htmlEscape(v))</td></tr>\n" }
        h += "</table></section>\n"

        if !r.runs.isEmpty {
            h += "<section><h2>Models run</h2>\n<table><tr><th>Model</th><th>Version</th><th>Task</th><th>Weights SHA-256</th><th>Preprocessing</th><th>Time</th></tr>\n"
            for m in r.runs {
                h += "<tr><td>\(htmlEscape(m.model))</td><td>\(htmlEscape(m.version))</td><td>\(htmlEscape(m.task))</td>"
                h += "<td><code>\(htmlEscape(String(m.weightsSHA256.prefix(16))))…</code></td>"
                h += "<td>\(m.preprocessing.map(htmlEscape).joined(separator: "<br>"))</td><td class=\"num\">\(fmt(m.seconds, 2)) s</td></tr>\n"
            }
            h += "</table></section>\n"
        }

        if let c = r.classification {
            h += "<section><h2>Classification</h2>\n"
            h += "<p>Top class: <b>\(htmlEscape(c.topClass))</b>, confidence \(fmt(100 * c.confidence, 1))% (temperature \(fmt(c.temperature, 2))).</p>\n"
            h += "<table><tr><th>Class</th><th>Probability</th><th>Chart</th></tr>\n"
            for (n, p) in zip(c.classes, c.probabilities) {
                let top = n == c.topClass ? " top" : ""
                let width = max(1, Int((p * 300).rounded()))
                let name = n == c.topClass ? "<b>\(htmlEscape(n))</b> (top class)" : htmlEscape(n)
                h += "<tr><td>\(name)</td><td class=\"num\">\(fmt(100 * p, 1))%</td>"
                h += "<td><span class=\"bar\(top)\" style=\"width:\(width)px\"></span></td></tr>\n"
            }
            h += "</table></section>\n"
        }

        if let s = r.segmentation {
            h += "<section><h2>Segmentation</h2>\n"
            if let m = s.maskFile { h += "<p>Mask: <code>\(htmlEscape(m))</code></p>\n" }
            h += "<table><tr><th>Label</th><th>Name</th><th>Voxels</th><th>Volume (mL)</th><th>Mean ± SD intensity</th><th>Bounding box (voxels)</th><th>Centroid (RAS mm)</th></tr>\n"
            for l in s.labels {
                let stats = l.meanIntensity.map { "\(fmt($0, 1)) ± \(fmt(l.sdIntensity ?? 0, 1))" } ?? "–"
                let box = l.boundingBox.map { b in "[\(b[0])–\(b[3]), \(b[1])–\(b[4]), \(b[2])–\(b[5])]" } ?? "–"
                let centroid = l.centroidMM.map { c in c.map { fmt($0, 1) }.joined(separator: ", ") } ?? "–"
                h += "<tr><td class=\"num\">\(l.value)</td><td>\(swatch(l))</td>"
                h += "<td class=\"num\">\(l.voxels)</td><td class=\"num\">\(fmt(l.volumeML, 2))</td><td class=\"num\">\(stats)</td><td>\(box)</td><td>\(centroid)</td></tr>\n"
            }
            h += "</table></section>\n"
        }

        h += "</div>\n"

        if !r.figures.isEmpty {
            h += "<section><h2>Figures</h2>\n<p class=\"meta\">Radiological convention: the patient's right is on the left of axial and coronal views.</p>\n"
            if let s = r.segmentation, !s.labels.isEmpty {
                h += "<p>Label colours: " + s.labels.map { swatch($0) }.joined(separator: "; ") + "</p>\n"
            }
            h += "<div class=\"figures\">\n"
            for f in r.figures {
                let src: String
                if let png = images[f.file] {
                    src = "data:image/png;base64," + Data(png).base64EncodedString()
                } else {
                    src = htmlEscape(f.file)
                }
                h += "<figure><img alt=\"\(htmlEscape(f.title))\" src=\"\(src)\"><figcaption><b>\(htmlEscape(f.title))</b>. \(htmlEscape(f.caption))</figcaption></figure>\n"
            }
            h += "</div></section>\n"
        }
        h += "</body></html>\n"
        return h
    }

    /// A label's colour swatch followed by its name (the colour never stands alone).
    static func swatch(_ l: CaseReport.LabelRow) -> String {
        "<span class=\"label\"><span class=\"swatch\" style=\"background:\(htmlEscape(l.color))\"></span>\(htmlEscape(l.name))</span>"
    }

    static func fmt(_ v: Double, _ digits: Int) -> String {
        guard v.isFinite else { return "–" }
        return String(format: "%.\(digits)f", v)
    }
}
