import Foundation
import MedVoxInference

/// The facts of one case's report: what `report.json` holds (documented schema, `schemaVersion`),
/// and what `report.html` shows. Every string that came from a file (descriptions, names,
/// paths) is kept verbatim here and escaped when rendered.
///
/// Schema (version 1):
/// - `schemaVersion` (int), `generatedAt` (ISO 8601 UTC), `medvoxVersion`
/// - `input`: `name` (file or folder name), `format`, `modality`?, `dims`, `spacing` (mm),
///   `orientation` (e.g. "LAS"), `datatype`, `acquisition` (name → value, BIDS names for DICOM),
///   `phiIncluded` (bool), `imageFile`? (path relative to the report folder, for rebuilding)
/// - `runs[]`: `model`, `version`, `task`, `weightsSHA256`, `preprocessing` (one line per step),
///   `seconds`, `details` (name → value)
/// - `classification`?: `classes`, `probabilities`, `topClass`, `confidence`, `temperature`
/// - `segmentation`?: `maskFile`?, `labels[]` with `value`, `name`, `color` (#rrggbb), `voxels`,
///   `volumeML`, `meanIntensity`?, `sdIntensity`?, `boundingBox`? [i0,j0,k0,i1,j1,k1],
///   `centroidMM`? (RAS+)
/// - `figures[]`: `file` (PNG beside the report), `title`, `caption`
/// - `warnings[]`: `code`, `message`
public struct CaseReport: Codable, Sendable, Equatable {
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int = CaseReport.currentSchemaVersion
    public var generatedAt: String
    public var medvoxVersion: String
    public var input: InputInfo
    public var runs: [ModelRun] = []
    public var classification: ClassificationSection?
    public var segmentation: SegmentationSection?
    public var figures: [FigureInfo] = []
    public var warnings: [QualityWarning] = []

    public init(generatedAt: String, medvoxVersion: String, input: InputInfo) {
        self.generatedAt = generatedAt
        self.medvoxVersion = medvoxVersion
        self.input = input
    }

    public struct InputInfo: Codable, Sendable, Equatable {
        public var name: String
        public var format: String
        public var modality: String?
        public var dims: [Int]
        public var spacing: [Double]
        public var orientation: String
        public var datatype: String
        public var acquisition: [String: String] = [:]
        public var phiIncluded: Bool = false
        public var imageFile: String?
    }

    public struct ModelRun: Codable, Sendable, Equatable {
        public var model: String
        public var version: String
        public var task: String
        public var weightsSHA256: String
        public var preprocessing: [String]
        public var seconds: Double
        public var details: [String: String] = [:]
    }

    public struct ClassificationSection: Codable, Sendable, Equatable {
        public var classes: [String]
        public var probabilities: [Double]
        public var topClass: String
        public var confidence: Double
        public var temperature: Double
    }

    public struct SegmentationSection: Codable, Sendable, Equatable {
        public var maskFile: String?
        public var labels: [LabelRow]
    }

    /// One label of the segmentation: its name and colour beside its `LabelStatistics`, whose
    /// fields read as the row's own (`row.value`, `row.voxels`, `row.volumeML`, …) and are
    /// encoded in the same flat JSON object.
    @dynamicMemberLookup
    public struct LabelRow: Codable, Sendable, Equatable {
        public var name: String
        /// "#rrggbb".
        public var color: String
        public var statistics: LabelStatistics

        public init(name: String, color: String, statistics: LabelStatistics) {
            self.name = name
            self.color = color
            self.statistics = statistics
        }

        public subscript<T>(dynamicMember path: KeyPath<LabelStatistics, T>) -> T { statistics[keyPath: path] }

        enum CodingKeys: String, CodingKey { case name, color }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            color = try c.decode(String.self, forKey: .color)
            statistics = try LabelStatistics(from: decoder)
        }

        public func encode(to encoder: Encoder) throws {
            try statistics.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(color, forKey: .color)
        }
    }

    public struct FigureInfo: Codable, Sendable, Equatable {
        public var file: String
        public var title: String
        public var caption: String
    }

    public struct QualityWarning: Codable, Sendable, Equatable {
        /// Stable machine-readable code, e.g. "modality-mismatch", "low-confidence".
        public var code: String
        public var message: String
    }

    /// Pretty JSON with sorted keys.
    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}
