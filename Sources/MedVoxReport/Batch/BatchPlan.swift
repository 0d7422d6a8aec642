import Foundation
import MedVoxCore
import MedVoxIO

/// One case of a batch: a NIfTI file or one DICOM series (possibly spread over nested folders).
public struct BatchCase: Sendable {
    public enum Kind: Sendable {
        case nifti(path: String)
        /// A series of the study's DICOM scan, by its `--series` selector.
        case dicom(selector: String)
    }
    /// Folder name under OUT_DIR: file-system safe, unique, and free of patient data for DICOM
    /// (series number and description plus a hash of the series UID).
    public var id: String
    public var kind: Kind
    /// What to show as the input (path relative to the study folder; for DICOM the series line).
    public var display: String
    /// The files the case reads (for the fingerprint).
    public var files: [String]
    /// The study folder the files are under (fingerprints use paths relative to it).
    public var root: String

    /// The fast input fingerprint, recorded in `case.json`: SHA-256 over each file's path relative
    /// to the study, size, modification time and the SHA-256 of its first and last MiB (the whole
    /// file when it is 2 MiB or smaller). A rerun redoes a case whose fingerprint changed, so a
    /// file replaced by one of the same size and time is redone too. Reads at most 2 MiB per file.
    public func fingerprint() -> String { BatchPlanner.fingerprint(files, root: root) }

    /// SHA-256 over each file's relative path and whole content (what `--verify` compares).
    public func contentHash() -> String { BatchPlanner.contentHash(files, root: root) }
}

/// What discovering a study folder found.
public struct BatchPlan: Sendable {
    public var cases: [BatchCase]
    /// Inputs left out and why (localizers, derived or secondary-capture series, non-image files).
    public var skipped: [(path: String, reason: String)]
    /// The DICOM scan the DICOM cases refer to (nil when the study has no DICOM).
    public var scan: DICOMScan?
    public var root: String
}

public enum BatchPlanner {
    static let niftiSuffixes = [".nii", ".nii.gz", ".hdr", ".hdr.gz"]
    static let secondaryCaptureClasses: Set<String> = [
        "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.7.1", "1.2.840.10008.5.1.4.1.1.7.2",
        "1.2.840.10008.5.1.4.1.1.7.3", "1.2.840.10008.5.1.4.1.1.7.4",
    ]

    /// Finds every case under `root`: NIfTI files, and DICOM series grouped across nested folders
    /// by SeriesInstanceUID. `include`/`exclude` are shell globs matched against paths relative to
    /// `root` (a case is kept when it matches some include, or there is none, and no exclude).
    /// Localizer, derived and secondary-capture series are skipped unless `allSeries`.
    public static func discover(_ root: String, include: [String] = [], exclude: [String] = [], allSeries: Bool = false) throws -> BatchPlan {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw FileError.cannotRead(path: root, reason: "not a folder")
        }
        let base = URL(fileURLWithPath: root).standardizedFileURL.path
        func rel(_ p: String) -> String { relative(p, to: base) }
        func wanted(_ p: String) -> Bool {
            let r = rel(p)
            if !include.isEmpty && !include.contains(where: { glob($0, r) }) { return false }
            return !exclude.contains(where: { glob($0, r) })
        }
        var files: [String] = []
        if let e = FileManager.default.enumerator(atPath: base) {
            while let r = e.nextObject() as? String {
                if (r as NSString).lastPathComponent.hasPrefix(".") {
                    e.skipDescendants()
                    continue
                }
                var d: ObjCBool = false
                let full = base + "/" + r
                if FileManager.default.fileExists(atPath: full, isDirectory: &d), !d.boolValue { files.append(full) }
            }
        }
        files.sort()
        var cases: [BatchCase] = []
        var skipped: [(String, String)] = []
        var usedIDs = Set<String>()
        func unique(_ id: String) -> String {
            var c = id
            var n = 2
            while usedIDs.contains(c) {
                c = "\(id)-\(n)"
                n += 1
            }
            usedIDs.insert(c)
            return c
        }
        let niftiFiles = files.filter { f in niftiSuffixes.contains { f.lowercased().hasSuffix($0) } }
        let imgFiles = Set(files.filter { $0.lowercased().hasSuffix(".img") || $0.lowercased().hasSuffix(".img.gz") })
        for f in niftiFiles where wanted(f) {
            let r = rel(f)
            var stem = r
            for s in niftiSuffixes where stem.lowercased().hasSuffix(s) { stem = String(stem.dropLast(s.count)) }
            var caseFiles = [f]
            if f.lowercased().hasSuffix(".hdr") || f.lowercased().hasSuffix(".hdr.gz") {
                caseFiles += imgFiles.filter { $0.hasPrefix(String(f.dropLast(f.hasSuffix(".gz") ? 7 : 4))) }
            }
            cases.append(BatchCase(
                id: unique(safeName(stem.replacingOccurrences(of: "/", with: "_"))), kind: .nifti(path: f), display: r,
                files: caseFiles, root: base))
        }
        let others = files.filter { f in !niftiFiles.contains(f) && !imgFiles.contains(f) && wanted(f) }
        var scan: DICOMScan?
        if !others.isEmpty {
            scan = try? DICOMScanner.scan(files: others, root: base)
            for (p, reason) in scan?.skipped ?? others.map({ ($0, "not DICOM") }) { skipped.append((rel(p), reason)) }
        }
        for s in scan?.series ?? [] {
            let paths = s.files.map(\.path)
            let line = "series #\(s.seriesNumber.map(String.init) ?? "?") \(s.modality ?? "?") '\(s.seriesDescription ?? "")' (\(s.slices.count) image(s))"
            if s.slices.isEmpty {
                skipped.append((line, s.excluded.first?.reason ?? "no usable images"))
                continue
            }
            if !allSeries {
                let sop = s.header.string(.sopClassUID) ?? ""
                if secondaryCaptureClasses.contains(sop) {
                    skipped.append((line, "secondary capture"))
                    continue
                }
                if s.slices.allSatisfy({ $0.isDerived }) {
                    skipped.append((line, "derived images"))
                    continue
                }
            }
            for e in s.excluded { skipped.append((rel(e.path), e.reason)) }
            let hash = String(SHA256.hash(Array(s.selector.utf8)).hex.prefix(8))
            cases.append(BatchCase(
                id: unique("\(s.outputBaseName)_\(hash)"), kind: .dicom(selector: s.selector), display: line,
                files: paths, root: base))
        }
        cases.sort { $0.id < $1.id }
        return BatchPlan(cases: cases, skipped: skipped, scan: scan, root: base)
    }

    /// Bytes hashed at each end of a file by the fast fingerprint.
    static let fingerprintSpan = 1 << 20

    /// `file` relative to `root` (unchanged when it is not under it).
    static func relative(_ file: String, to root: String) -> String {
        let s = URL(fileURLWithPath: file).standardizedFileURL.path
        return s.hasPrefix(root + "/") ? String(s.dropFirst(root.count + 1)) : s
    }

    /// How one file enters a digest: text hashed before its content, and what of the open file
    /// goes into the content's own SHA-256.
    typealias FileDigestPart = (header: String, content: (FileHandle, inout SHA256) -> Void)

    /// SHA-256 over `files` in sorted order: for each, its part's header, then the hex SHA-256 of
    /// what its part reads from the file (or "unreadable"), then a newline. An unreadable file
    /// contributes its header and that marker (the case then fails when it is processed).
    static func digest(_ files: [String], _ part: (String) -> FileDigestPart) -> String {
        var h = SHA256()
        for f in files.sorted() {
            let p = part(f)
            h.update(Array(p.header.utf8))
            if let file = FileHandle(forReadingAtPath: f) {
                defer { try? file.close() }
                var content = SHA256()
                p.content(file, &content)
                h.update(Array(content.finalize().hex.utf8))
            } else {
                h.update(Array("unreadable".utf8))
            }
            h.update([0x0a])
        }
        return h.finalize().hex
    }

    /// See `BatchCase.fingerprint()`: each file's relative path, size and modification time, and
    /// its first and last `fingerprintSpan` bytes (the whole file up to twice that).
    static func fingerprint(_ files: [String], root: String) -> String {
        digest(files) { f in
            let a = try? FileManager.default.attributesOfItem(atPath: f)
            let size = (a?[.size] as? NSNumber)?.int64Value ?? -1
            let mtime = (a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return ("\(relative(f, to: root))\u{0}\(size)\u{0}\(mtime)\u{0}", { file, ends in
                let span = UInt64(fingerprintSpan)
                if size >= 0 && UInt64(size) > 2 * span {
                    ends.update([UInt8]((try? file.read(upToCount: Int(span))) ?? Data()))
                    try? file.seek(toOffset: UInt64(size) - span)
                }
                ends.update([UInt8]((try? file.read(upToCount: 2 * Int(span))) ?? Data()))
            })
        }
    }

    /// See `BatchCase.contentHash()`: each file's relative path and every byte, read in 4 MiB pieces.
    static func contentHash(_ files: [String], root: String) -> String {
        digest(files) { f in
            ("\(relative(f, to: root))\u{0}", { file, content in
                while let piece = try? file.read(upToCount: 4 << 20), !piece.isEmpty {
                    piece.withUnsafeBytes { content.update($0) }
                }
            })
        }
    }

    /// A file-system-safe name: [A-Za-z0-9._-] only, no leading dot, at most 100 characters.
    public static func safeName(_ s: String) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            let ok = (ch >= "a" && ch <= "z") || (ch >= "A" && ch <= "Z") || (ch >= "0" && ch <= "9") || ch == "-" || ch == "." || ch == "_"
            out.append(ok ? Character(ch) : "_")
        }
        while out.hasPrefix(".") { out.removeFirst() }
        if out.count > 100 { out = String(out.prefix(100)) }
        return out.isEmpty ? "case" : out
    }

    /// Shell-style glob: `*` (any run, including `/`), `?` (one character), literal otherwise.
    public static func glob(_ pattern: String, _ s: String) -> Bool {
        let p = Array(pattern), t = Array(s)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// The cases of shard `index` (0-based) of `count`: every `count`-th case of the sorted list,
    /// so shards are disjoint, cover every case, and do not depend on where they run.
    public static func shard(_ cases: [BatchCase], index: Int, count: Int) -> [BatchCase] {
        cases.enumerated().filter { $0.offset % count == index }.map(\.element)
    }

    /// The shard selected by the environment: Slurm job arrays (SLURM_ARRAY_TASK_ID with
    /// SLURM_ARRAY_TASK_COUNT, or MIN/MAX) or Kubernetes indexed Jobs (JOB_COMPLETION_INDEX with
    /// `shards`). Nil when neither is set.
    public static func shardFromEnvironment(_ env: [String: String], shards: Int?) throws -> (index: Int, count: Int)? {
        if let id = env["SLURM_ARRAY_TASK_ID"].flatMap({ Int($0) }) {
            let minID = env["SLURM_ARRAY_TASK_MIN"].flatMap { Int($0) } ?? 0
            var count = env["SLURM_ARRAY_TASK_COUNT"].flatMap { Int($0) }
            if count == nil, let maxID = env["SLURM_ARRAY_TASK_MAX"].flatMap({ Int($0) }) { count = maxID - minID + 1 }
            if let shards { count = shards }
            guard let c = count, c > 0, id - minID >= 0, id - minID < c else {
                throw BatchError.badShard("SLURM_ARRAY_TASK_ID=\(id) does not fit the array size (set SLURM_ARRAY_TASK_COUNT or --shards)")
            }
            return (id - minID, c)
        }
        if let idx = env["JOB_COMPLETION_INDEX"].flatMap({ Int($0) }) {
            guard let c = shards, c > 0, idx >= 0, idx < c else {
                throw BatchError.badShard("JOB_COMPLETION_INDEX=\(idx) needs --shards N with N > \(idx)")
            }
            return (idx, c)
        }
        return nil
    }
}

public enum BatchError: MedVoxError {
    case badShard(String)
    case noModel
    public var description: String {
        switch self {
        case let .badShard(m): return "shard selection: \(m)"
        case .noModel: return "nothing to do: give --segment MODEL and/or --classify MODEL"
        }
    }
}
