import Foundation
import MedVoxCore

/// A set of slices that form one volume (or one 4D series): one SeriesInstanceUID, split further
/// where dcm2niix would split it (image size, orientation, echo, samples per pixel).
public struct DICOMSeries: Sendable {
    public var seriesInstanceUID: String
    /// "" for an unsplit series, else a suffix such as "e2" (echo 2) or "o2" (second orientation).
    public var splitLabel: String
    public var files: [DICOMFile]
    /// Slices to assemble (localizers and mixed-in derived images already removed).
    public var slices: [DICOMSlice]
    /// Images left out of assembly and why (path, reason).
    public var excluded: [(path: String, reason: String)]

    /// The data set of the first file (series-level attributes).
    public var header: DICOMDataset { files[slices.first?.fileIndex ?? 0].dataset }
    public var seriesNumber: Int? { header.int(.seriesNumber) }
    public var seriesDescription: String? { header.string(.seriesDescription) ?? header.string(.protocolName) }
    public var modality: String? { header.string(.modality) }
    public var transferSyntax: TransferSyntax { files[slices.first?.fileIndex ?? 0].transferSyntax }

    /// A file-system-safe base name from SeriesNumber and SeriesDescription: only
    /// [A-Za-z0-9._-], no leading dot, at most 80 characters; never patient data.
    public var outputBaseName: String {
        var parts: [String] = []
        if let n = seriesNumber { parts.append(String(n)) }
        if let d = seriesDescription { parts.append(d) }
        if !splitLabel.isEmpty { parts.append(splitLabel) }
        return DICOMSeries.safeName(parts.joined(separator: "_"))
    }

    static func safeName(_ s: String) -> String {
        var out = ""
        var lastUnderscore = false
        for ch in s.unicodeScalars {
            let ok = (ch >= "a" && ch <= "z") || (ch >= "A" && ch <= "Z") || (ch >= "0" && ch <= "9") || ch == "-" || ch == "."
            if ok {
                out.unicodeScalars.append(ch)
                lastUnderscore = false
            } else if !lastUnderscore {
                out.append("_")
                lastUnderscore = true
            }
        }
        while out.hasPrefix(".") || out.hasPrefix("_") { out.removeFirst() }
        while out.hasSuffix("_") || out.hasSuffix(".") { out.removeLast() }
        if out.count > 80 { out = String(out.prefix(80)) }
        return out.isEmpty ? "series" : out
    }
}

/// What scanning a folder found.
public struct DICOMScan: Sendable {
    public var series: [DICOMSeries]
    /// Files that were not used and why (not DICOM, DICOMDIR, unreadable, no pixel data).
    public var skipped: [(path: String, reason: String)]
}

/// Finds DICOM files under a path and groups them into series.
public enum DICOMScanner {
    /// Scans `path` (a file or a folder, recursively; any file name, with or without .dcm).
    /// Headers are parsed in parallel and pixel data is not read. Non-DICOM files and DICOMDIRs
    /// are skipped with a note; in a folder, unreadable DICOM files are skipped too, while a
    /// single file that fails throws.
    public static func scan(_ path: String) throws -> DICOMScan {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FileError.cannotRead(path: path, reason: "no such file or folder")
        }
        if !isDir.boolValue {
            let f = try DICOMFile(path: path)
            if f.isDICOMDIR { throw DICOMError.noImages(path: path, reason: "a DICOMDIR; give the folder instead") }
            if f.pixelData == nil { throw DICOMError.missingPixelData(path: path) }
            _ = try f.slices(fileIndex: 0)  // a single file's header errors are the answer
            return try group([f], skipped: [], root: path)
        }
        return try scan(files: listFiles(path), root: path)
    }

    /// Parses the given files' headers in parallel (pixel data is not read) and groups them into
    /// series; files that are not DICOM, DICOMDIRs and unreadable files are skipped with a note.
    /// `root` names the set in errors.
    public static func scan(files paths: [String], root path: String = "files") throws -> DICOMScan {
        var results = [Result<DICOMFile, Error>?](repeating: nil, count: paths.count)
        results.withUnsafeMutableBufferPointer { out in
            parallelFor(paths.count) { i in
                out[i] = Result { try DICOMFile(path: paths[i]) }
            }
        }
        var files: [DICOMFile] = []
        var skipped: [(String, String)] = []
        for (p, r) in zip(paths, results) {
            switch r! {
            case .success(let f):
                if f.isDICOMDIR { skipped.append((p, "DICOMDIR")) }
                else if f.pixelData == nil { skipped.append((p, "no pixel data")) }
                else { files.append(f) }
            case .failure(let e as DICOMError):
                if case .notDICOM = e { skipped.append((p, "not DICOM")) } else { skipped.append((p, "\(e)")) }
            case .failure(let e):
                skipped.append((p, "\(e)"))
            }
        }
        if files.isEmpty {
            let reasons = Set(skipped.map(\.1))
            throw DICOMError.noImages(path: path, reason: reasons.count == 1 ? "\(skipped.count) file(s): \(reasons.first!)" : "\(skipped.count) file(s) skipped")
        }
        return try group(files, skipped: skipped, root: path)
    }

    /// Regular files under `root`, sorted, hidden files left out.
    static func listFiles(_ root: String) -> [String] {
        var out: [String] = []
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        while let rel = e.nextObject() as? String {
            let name = (rel as NSString).lastPathComponent
            if name.hasPrefix(".") {
                e.skipDescendants()
                continue
            }
            let full = root.hasSuffix("/") ? root + rel : root + "/" + rel
            var d: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &d), !d.boolValue { out.append(full) }
        }
        return out.sorted()
    }

    /// Groups files by SeriesInstanceUID, then splits each by image size, samples per pixel,
    /// orientation (rounded to 1e-4) and echo, and removes localizers and mixed-in derived images.
    static func group(_ files: [DICOMFile], skipped: [(String, String)], root: String) throws -> DICOMScan {
        var skipped = skipped
        var byUID: [String: [Int]] = [:]
        var order: [String] = []
        for (i, f) in files.enumerated() {
            let uid = f.dataset.string(.seriesInstanceUID) ?? "(no SeriesInstanceUID) \((f.path as NSString).deletingLastPathComponent)"
            if byUID[uid] == nil { order.append(uid) }
            byUID[uid, default: []].append(i)
        }
        var series: [DICOMSeries] = []
        for uid in order {
            let sFiles = byUID[uid]!.map { files[$0] }
            var slices: [DICOMSlice] = []
            var usable: [DICOMFile] = []
            for f in sFiles {
                do {
                    let s = try f.slices(fileIndex: usable.count)
                    usable.append(f)
                    slices += s
                } catch {
                    skipped.append((f.path, "\(error)"))
                }
            }
            guard !usable.isEmpty else { continue }
            var excluded: [(String, String)] = []
            let hasOriginal = slices.contains { !$0.isDerived && !$0.isLocalizer }
            var kept: [DICOMSlice] = []
            for s in slices {
                let p = usable[s.fileIndex].path + (s.frame > 0 ? " frame \(s.frame)" : "")
                if s.isLocalizer { excluded.append((p, "localizer")) }
                else if s.isDerived && hasOriginal { excluded.append((p, "derived image in a series of original images")) }
                else { kept.append(s) }
            }
            // Split keys.
            var groups: [String: [DICOMSlice]] = [:]
            var keys: [String] = []
            var echoes = Set<String>(), shapes = Set<String>(), orients = Set<String>()
            for s in kept {
                let info = try? usable[s.fileIndex].imageInfo()
                let shape = "\(info?.rows ?? 0)x\(info?.columns ?? 0)x\(info?.channels ?? 1)"
                let o = s.orientation.map { $0.map { String(format: "%.4f", $0 + 0) }.joined(separator: ",") } ?? "none"
                let e = s.echoNumber.map(String.init) ?? s.echoTime.map { String(format: "%.3f", $0) } ?? ""
                let key = shape + "|" + o + "|" + e
                echoes.insert(e); shapes.insert(shape); orients.insert(o)
                if groups[key] == nil { keys.append(key) }
                groups[key, default: []].append(s)
            }
            if kept.isEmpty {
                series.append(DICOMSeries(seriesInstanceUID: uid, splitLabel: "", files: usable, slices: [], excluded: excluded))
                continue
            }
            for (n, key) in keys.enumerated() {
                let g = groups[key]!
                var label = ""
                if keys.count > 1 {
                    let f = key.split(separator: "|", omittingEmptySubsequences: false)
                    if echoes.count > 1 && shapes.count == 1 && orients.count == 1 { label = "e\(f[2])" }
                    else { label = "i\(n + 1)" }
                }
                series.append(DICOMSeries(seriesInstanceUID: uid, splitLabel: label, files: usable, slices: g,
                                          excluded: n == 0 ? excluded : []))
            }
        }
        if series.isEmpty { throw DICOMError.noImages(path: root, reason: skipped.first.map { "e.g. \($0.0): \($0.1)" }) }
        return DICOMScan(series: series, skipped: skipped)
    }
}
