import Foundation

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
        public init(name: String, format: String, modality: String?, dims: [Int], spacing: [Double], orientation: String, datatype: String) {
            self.name = name
            self.format = format
            self.modality = modality
            self.dims = dims
            self.spacing = spacing
            self.orientation = orientation
            self.datatype = datatype
        }
    }

    public struct ModelRun: Codable, Sendable, Equatable {
        public var model: String
        public var version: String
        public var task: String
        public var weightsSHA256: String
        public var preprocessing: [String]
        public var seconds: Double
        public var details: [String: String] = [:]
        public init(model: String, version: String, task: String, weightsSHA256: String, preprocessing: [String], seconds: Double) {
            self.model = model
            self.version = version
            self.task = task
            self.weightsSHA256 = weightsSHA256
            self.preprocessing = preprocessing
            self.seconds = seconds
        }
    }

    public struct ClassificationSection: Codable, Sendable, Equatable {
        public var classes: [String]
        public var probabilities: [Double]
        public var topClass: String
        public var confidence: Double
        public var temperature: Double
        public init(classes: [String], probabilities: [Double], topClass: String, confidence: Double, temperature: Double) {
            self.classes = classes
            self.probabilities = probabilities
            self.topClass = topClass
            self.confidence = confidence
            self.temperature = temperature
        }
    }

    public struct SegmentationSection: Codable, Sendable, Equatable {
        public var maskFile: String?
        public var labels: [LabelRow]
        public init(maskFile: String?, labels: [LabelRow]) {
            self.maskFile = maskFile
            self.labels = labels
        }
    }

    public struct LabelRow: Codable, Sendable, Equatable {
        public var value: Int
        public var name: String
        public var color: String
        public var voxels: Int
        public var volumeML: Double
        public var meanIntensity: Double?
        public var sdIntensity: Double?
        public var boundingBox: [Int]?
        public var centroidMM: [Double]?
    }

    public struct FigureInfo: Codable, Sendable, Equatable {
        public var file: String
        public var title: String
        public var caption: String
        public init(file: String, title: String, caption: String) {
            self.file = file
            self.title = title
            self.caption = caption
        }
    }

    public struct QualityWarning: Codable, Sendable, Equatable {
        /// Stable machine-readable code, e.g. "modality-mismatch", "low-confidence".
        public var code: String
        public var message: String
        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    /// Pretty JSON with sorted keys.
    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}
