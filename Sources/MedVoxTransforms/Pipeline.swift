import Foundation
import MedVoxCore

/// One deterministic preprocessing step, as stored in a pipeline's JSON (and a model card).
///
/// ```json
/// {"op": "resample", "spacing": [1, 1, 1], "interpolation": "bspline"}
/// ```
public struct PreprocessStep: Codable, Equatable, Sendable {
    public enum Op: String, Codable, Sendable, CaseIterable {
        case reorient, resample
        case cropForeground = "crop_foreground"
        case padCrop = "pad_crop"
        case centreCrop = "centre_crop"
        case zscore, percentile
        case ctWindow = "ct_window"
        case histogram
    }

    public var op: Op
    /// reorient: target codes, e.g. "RAS".
    public var orientation: String?
    /// resample: voxel size in mm (one or three values) — or `shape`.
    public var spacing: [Double]?
    /// resample / pad_crop / centre_crop: voxels per axis.
    public var shape: [Int]?
    /// resample: interpolation of the image (label maps always use nearest).
    public var interpolation: Interpolation?
    /// resample: Gaussian pre-smoothing when downsampling (default true).
    public var antiAlias: Bool?
    /// crop_foreground: voxels above it are foreground (default 0); margin in voxels (default 0).
    public var threshold: Float?
    public var margin: Int?
    /// pad_crop: how to pad (default constant 0).
    public var mode: PadMode?
    /// zscore / percentile: statistics over non-zero voxels only (default false).
    public var nonZero: Bool?
    /// percentile: the clipping percentiles (default 0.5, 99.5); ct_window: HU range.
    public var lower: Double?
    public var upper: Double?
    /// histogram: learnt landmarks.
    public var standardization: HistogramStandardization?

    public init(op: Op) { self.op = op }

    public static func reorient(_ codes: String) -> PreprocessStep {
        var s = PreprocessStep(op: .reorient)
        s.orientation = codes
        return s
    }
    public static func resample(spacing: [Double]? = nil, shape: [Int]? = nil, interpolation: Interpolation = .linear) -> PreprocessStep {
        var s = PreprocessStep(op: .resample)
        s.spacing = spacing
        s.shape = shape
        s.interpolation = interpolation
        return s
    }
    public static func cropForeground(threshold: Float = 0, margin: Int = 0) -> PreprocessStep {
        var s = PreprocessStep(op: .cropForeground)
        s.threshold = threshold
        s.margin = margin
        return s
    }
    public static func padCrop(_ shape: [Int], mode: PadMode = .constant) -> PreprocessStep {
        var s = PreprocessStep(op: .padCrop)
        s.shape = shape
        s.mode = mode
        return s
    }
    public static func centreCrop(_ shape: [Int]) -> PreprocessStep {
        var s = PreprocessStep(op: .centreCrop)
        s.shape = shape
        return s
    }
    public static func zscore(nonZero: Bool = false) -> PreprocessStep {
        var s = PreprocessStep(op: .zscore)
        s.nonZero = nonZero
        return s
    }
    public static func percentile(lower: Double = 0.5, upper: Double = 99.5, nonZero: Bool = false) -> PreprocessStep {
        var s = PreprocessStep(op: .percentile)
        s.lower = lower
        s.upper = upper
        s.nonZero = nonZero
        return s
    }
    public static func ctWindow(low: Double, high: Double) -> PreprocessStep {
        var s = PreprocessStep(op: .ctWindow)
        s.lower = low
        s.upper = high
        return s
    }
    public static func histogram(_ h: HistogramStandardization) -> PreprocessStep {
        var s = PreprocessStep(op: .histogram)
        s.standardization = h
        return s
    }

    /// Whether the step changes the voxel grid (and so applies to label maps too).
    public var isSpatial: Bool { [.reorient, .resample, .cropForeground, .padCrop, .centreCrop].contains(op) }
}

/// A preprocessing pipeline: steps applied in order to an image and its label maps. Spatial steps
/// keep the affine exact, so `PreprocessResult.restore` puts an output (e.g. a predicted mask)
/// back onto the input grid. Encoded as `{"version": 1, "steps": [...]}` in model cards.
public struct PreprocessPipeline: Codable, Equatable, Sendable {
    public var version: Int = 1
    public var steps: [PreprocessStep]

    public init(steps: [PreprocessStep]) { self.steps = steps }

    /// Decodes a pipeline from JSON; `source` names the file in errors.
    public static func decode(_ data: Data, source: String) throws -> PreprocessPipeline {
        do {
            let p = try JSONDecoder().decode(PreprocessPipeline.self, from: data)
            guard p.version == 1 else { throw TransformError.badDescription(source: source, reason: "unsupported pipeline version \(p.version)") }
            return p
        } catch let e as TransformError {
            throw e
        } catch {
            throw TransformError.badDescription(source: source, reason: "not a preprocessing pipeline: \(error)")
        }
    }

    public func encoded() -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? e.encode(self)) ?? Data()
    }

    /// Runs the pipeline on `image` and the `labels` on its grid (nearest interpolation for them).
    public func apply(to image: Volume, labels: [Volume] = []) throws -> PreprocessResult {
        for l in labels where l.shape3 != image.shape3 {
            throw TransformError.gridMismatch(what: "label map", expected: image.shape3, actual: l.shape3)
        }
        var img = image
        var labs = labels
        for step in steps {
            switch step.op {
            case .reorient:
                let codes = step.orientation ?? "RAS"
                guard let o = Orientation(codes: codes) else {
                    throw TransformError.invalidParameter(name: "orientation", value: codes, expected: "three letters naming each axis once, e.g. RAS or LPS")
                }
                img = img.reoriented(to: o)
                labs = labs.map { $0.reoriented(to: o) }
            case .resample:
                let grid: Grid
                if let s = step.spacing {
                    grid = try img.grid(forSpacing: s)
                } else if let sh = step.shape {
                    grid = try img.grid(forShape: sh)
                } else {
                    throw TransformError.invalidParameter(name: "resample", value: "no spacing or shape", expected: "spacing or shape")
                }
                img = try img.resampled(onto: grid, interpolation: step.interpolation ?? .linear, antiAlias: step.antiAlias ?? true)
                labs = try labs.map { try $0.resampled(onto: grid, interpolation: .nearest) }
            case .cropForeground:
                let (c, box) = try img.croppedToForeground(threshold: step.threshold ?? 0, margin: step.margin ?? 0)
                img = c
                labs = try labs.map { try $0.extracted(box) }
            case .padCrop, .centreCrop:
                guard let sh = step.shape else {
                    throw TransformError.invalidParameter(name: step.op.rawValue, value: "no shape", expected: "a shape")
                }
                if step.op == .centreCrop {
                    img = try img.centreCropped(to: sh)
                    labs = try labs.map { try $0.centreCropped(to: sh) }
                } else {
                    img = try img.paddedOrCropped(to: sh, mode: step.mode ?? .constant)
                    labs = try labs.map { try $0.paddedOrCropped(to: sh, mode: step.mode ?? .constant) }
                }
            case .zscore:
                img = try img.zScored(over: step.nonZero == true ? .nonZero : .all)
            case .percentile:
                img = try img.percentileScaled(lower: step.lower ?? 0.5, upper: step.upper ?? 99.5, over: step.nonZero == true ? .nonZero : .all)
            case .ctWindow:
                guard let lo = step.lower, let hi = step.upper, lo < hi else {
                    throw TransformError.invalidParameter(name: "ct_window", value: "\(step.lower ?? .nan),\(step.upper ?? .nan)", expected: "low < high")
                }
                img = img.windowed(low: lo, high: hi)
            case .histogram:
                guard let h = step.standardization else {
                    throw TransformError.invalidParameter(name: "histogram", value: "no landmarks", expected: "learnt landmarks")
                }
                img = try h.apply(img)
            }
        }
        return PreprocessResult(image: img, labels: labs, inputGrid: image.grid)
    }
}

/// The output of a pipeline and what is needed to map results back onto the input.
public struct PreprocessResult: Sendable {
    public var image: Volume
    public var labels: [Volume]
    /// The grid of the pipeline's input.
    public var inputGrid: Grid

    /// A volume on the preprocessed grid (a mask, probabilities) mapped back onto the input grid.
    public func restore(_ v: Volume, interpolation: Interpolation = .nearest) throws -> Volume {
        try v.resampled(onto: inputGrid, interpolation: interpolation, boundary: .constant(0), antiAlias: false)
    }
}

extension PreprocessStep {
    /// Parses a normalisation name as `medvox convert --normalize` takes it: `zscore`,
    /// `zscore-nonzero`, `percentile` (0.5–99.5), `percentile:LOW,HIGH`, `ct:LOW,HIGH` (HU).
    public static func normalization(_ text: String) throws -> PreprocessStep {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let numbers = parts.count > 1 ? parts[1].split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) } : []
        let expected = "zscore, zscore-nonzero, percentile[:LOW,HIGH] or ct:LOW,HIGH"
        guard numbers.allSatisfy({ $0 != nil && $0!.isFinite }) else {
            throw TransformError.invalidParameter(name: "normalisation", value: text, expected: expected)
        }
        let v = numbers.map { $0! }
        switch (parts[0].lowercased(), v.count) {
        case ("zscore", 0): return .zscore()
        case ("zscore-nonzero", 0): return .zscore(nonZero: true)
        case ("percentile", 0): return .percentile()
        case ("percentile", 2) where v[0] >= 0 && v[0] < v[1] && v[1] <= 100: return .percentile(lower: v[0], upper: v[1])
        case ("ct", 2) where v[0] < v[1]: return .ctWindow(low: v[0], high: v[1])
        default: throw TransformError.invalidParameter(name: "normalisation", value: text, expected: expected)
        }
    }
}

extension PreprocessPipeline {
    /// The pipeline of `medvox convert`'s preprocessing flags, in their fixed order: reorient,
    /// resample (to `spacing`, or to `shape` when no spacing is given), pad/crop to `shape` (when a
    /// spacing is also given), crop to the foreground, normalise.
    public static func fromOptions(
        reorient: String? = nil, spacing: [Double]? = nil, shape: [Int]? = nil, interpolation: Interpolation? = nil,
        cropForeground: Bool = false, normalize: String? = nil
    ) throws -> PreprocessPipeline {
        var steps = [PreprocessStep]()
        if let reorient {
            guard Orientation(codes: reorient) != nil else {
                throw TransformError.invalidParameter(name: "orientation", value: reorient, expected: "three letters naming each axis once, e.g. RAS or LPS")
            }
            steps.append(.reorient(reorient.uppercased()))
        }
        if let spacing {
            steps.append(.resample(spacing: spacing, interpolation: interpolation ?? .linear))
            if let shape { steps.append(.padCrop(shape)) }
        } else if let shape {
            steps.append(.resample(shape: shape, interpolation: interpolation ?? .linear))
        }
        if cropForeground { steps.append(.cropForeground()) }
        if let normalize { steps.append(try .normalization(normalize)) }
        return PreprocessPipeline(steps: steps)
    }
}
