import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxTransforms

/// Errors in training data, settings and checkpoints.
public enum TrainingError: MedVoxError {
    case badData(path: String, reason: String)
    case badSetting(name: String, reason: String)
    case badCheckpoint(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badData(path, reason): return "\(path): \(reason)"
        case let .badSetting(name, reason): return "training setting \(name): \(reason)"
        case let .badCheckpoint(path, reason): return "\(path): cannot resume from this checkpoint: \(reason)"
        }
    }
}

/// One training case as found on disk: an image and its label map (segmentation), an image and a
/// class index (classification), or a label map alone (`--synth-from`).
public struct TrainingCase: Sendable, Equatable {
    /// Case identifier (file name without the channel suffix and extension), used for the split.
    public var id: String
    public var image: String?
    public var label: String?
    public var classIndex: Int?
    public init(id: String, image: String?, label: String? = nil, classIndex: Int? = nil) {
        self.id = id
        self.image = image
        self.label = label
        self.classIndex = classIndex
    }
}

/// Finding training cases: nnU-Net / MSD folders, CSV lists, label maps alone.
public enum TrainingData {
    static let suffixes = [".nii.gz", ".nii"]

    static func stripExtension(_ name: String) -> String? {
        for s in suffixes where name.hasSuffix(s) { return String(name.dropLast(s.count)) }
        return nil
    }

    static func listNIfTI(_ dir: String) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            throw TrainingError.badData(path: dir, reason: "cannot list the folder")
        }
        return names.filter { !$0.hasPrefix(".") && stripExtension($0) != nil }.sorted()
    }

    /// Segmentation cases from `DIR/imagesTr` and `DIR/labelsTr` with nnU-Net / MSD naming:
    /// `imagesTr/CASE_0000.nii.gz` (channel 0; a plain `CASE.nii.gz` is accepted too) pairs with
    /// `labelsTr/CASE.nii.gz`. Every image needs a label map and vice versa.
    public static func segmentationFolder(_ dir: String) throws -> [TrainingCase] {
        let imagesDir = "\(dir)/imagesTr", labelsDir = "\(dir)/labelsTr"
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: imagesDir, isDirectory: &isDir), isDir.boolValue,
            FileManager.default.fileExists(atPath: labelsDir, isDirectory: &isDir), isDir.boolValue
        else { throw TrainingError.badData(path: dir, reason: "expected sub-folders imagesTr/ and labelsTr/ (nnU-Net layout)") }
        var labels: [String: String] = [:]
        for name in try listNIfTI(labelsDir) { labels[stripExtension(name)!] = "\(labelsDir)/\(name)" }
        var cases: [TrainingCase] = []
        var seen = Set<String>()
        for name in try listNIfTI(imagesDir) {
            var id = stripExtension(name)!
            if let r = id.range(of: #"_\d{4}$"#, options: .regularExpression) {
                guard id.hasSuffix("_0000") else { continue }  // further channels: single-channel models only
                id.removeSubrange(r)
            }
            guard let label = labels[id] else {
                throw TrainingError.badData(path: "\(imagesDir)/\(name)", reason: "no label map labelsTr/\(id).nii.gz")
            }
            guard seen.insert(id).inserted else { throw TrainingError.badData(path: "\(imagesDir)/\(name)", reason: "case '\(id)' appears twice") }
            cases.append(TrainingCase(id: id, image: "\(imagesDir)/\(name)", label: label))
        }
        if let orphan = labels.keys.sorted().first(where: { !seen.contains($0) }) {
            throw TrainingError.badData(path: labels[orphan]!, reason: "label map without an image in imagesTr/")
        }
        guard !cases.isEmpty else { throw TrainingError.badData(path: imagesDir, reason: "no NIfTI images") }
        return cases
    }

    /// Rows of a small CSV (comma-separated, no quoting; `#` comments and blank lines skipped; a
    /// first row naming the columns is skipped when its second field is a header word).
    static func csvRows(_ path: String) throws -> [[String]] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw TrainingError.badData(path: path, reason: "cannot read the CSV file")
        }
        var rows: [[String]] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") { continue }
            rows.append(t.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) })
        }
        if let first = rows.first, first.count >= 2, ["label", "class", "mask", "labels", "segmentation"].contains(first[1].lowercased()) {
            rows.removeFirst()
        }
        return rows
    }

    /// Resolves a path in a CSV relative to the CSV's folder.
    static func resolve(_ p: String, relativeTo csv: String) -> String {
        p.hasPrefix("/") ? p : URL(fileURLWithPath: csv).deletingLastPathComponent().appendingPathComponent(p).path
    }

    /// Segmentation cases from a CSV of `image,label` rows (paths relative to the CSV's folder).
    public static func segmentationPairs(_ csv: String) throws -> [TrainingCase] {
        var cases: [TrainingCase] = []
        for (n, row) in try csvRows(csv).enumerated() {
            guard row.count == 2, !row[0].isEmpty, !row[1].isEmpty else {
                throw TrainingError.badData(path: csv, reason: "row \(n + 1): expected image,label")
            }
            let image = resolve(row[0], relativeTo: csv)
            let id = stripExtension(URL(fileURLWithPath: image).lastPathComponent) ?? "case\(n)"
            cases.append(TrainingCase(id: "\(n):\(id)", image: image, label: resolve(row[1], relativeTo: csv)))
        }
        guard !cases.isEmpty else { throw TrainingError.badData(path: csv, reason: "no rows") }
        return cases
    }

    /// Classification cases from a CSV of `path,label` rows. Labels are class names (or numbers);
    /// classes are numbered in the order given by `classNames`, or sorted when it is nil.
    public static func classificationCSV(_ csv: String, classNames: [String]?) throws -> (cases: [TrainingCase], classes: [String]) {
        let rows = try csvRows(csv)
        for (n, row) in rows.enumerated() where row.count != 2 || row[0].isEmpty || row[1].isEmpty {
            throw TrainingError.badData(path: csv, reason: "row \(n + 1): expected path,label")
        }
        let names = classNames ?? Array(Set(rows.map { $0[1] })).sorted()
        guard names.count >= 2 else { throw TrainingError.badData(path: csv, reason: "needs at least two classes") }
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        var cases: [TrainingCase] = []
        for (n, row) in rows.enumerated() {
            guard let k = index[row[1]] else {
                throw TrainingError.badData(path: csv, reason: "row \(n + 1): class '\(row[1])' is not one of \(names.joined(separator: ", "))")
            }
            let image = resolve(row[0], relativeTo: csv)
            cases.append(TrainingCase(id: "\(n):\(image)", image: image, classIndex: k))
        }
        return (cases, names)
    }

    /// Label maps alone (`--synth-from`): a NIfTI file, or every NIfTI file in a folder.
    public static func labelMaps(_ path: String) throws -> [TrainingCase] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TrainingError.badData(path: path, reason: "no such file or folder")
        }
        let files = isDir.boolValue ? try listNIfTI(path).map { "\(path)/\($0)" } : [path]
        guard !files.isEmpty else { throw TrainingError.badData(path: path, reason: "no NIfTI label maps") }
        return files.map { TrainingCase(id: stripExtension(URL(fileURLWithPath: $0).lastPathComponent) ?? $0, image: nil, label: $0) }
    }

    /// A deterministic split by case: ids are sorted, shuffled with `seed`, and the first
    /// ⌈fraction·n⌉ (at least one when there are two or more cases, none for one case) go to
    /// validation. Returns indices into `ids`, each list in ascending order.
    public static func split(ids: [String], validationFraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        let n = ids.count
        guard n >= 2, validationFraction > 0 else { return (Array(0..<n), []) }
        var order = Array(0..<n).sorted { ids[$0] < ids[$1] }
        var rng = SeededGenerator(seed: seed ^ 0x5eed_5_1)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, rng.int(in: 0...i)) }
        let nVal = min(n - 1, max(1, Int((validationFraction * Double(n)).rounded(.up))))
        return (order[nVal...].sorted(), order[..<nVal].sorted())
    }
}
