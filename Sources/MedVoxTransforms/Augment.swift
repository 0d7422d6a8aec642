import Foundation
import MedVoxCore

/// An image and the label maps on its grid, transformed together.
public struct Sample: Sendable {
    public var image: Volume
    public var labels: [Volume]
    public init(image: Volume, labels: [Volume] = []) {
        self.image = image
        self.labels = labels
    }
}

/// A transform that was applied, with the parameters it drew (to reproduce and inspect a case).
public struct AppliedTransform: Codable, Equatable, Sendable {
    public var name: String
    public var parameters: [String: [Double]]
}

/// The random transforms. Spatial ones move the image and every label map together (labels with
/// nearest interpolation); intensity and k-space ones change the image only.
public enum AugmentKind: String, Codable, Sendable, CaseIterable {
    case flip, affine, elastic, anisotropy
    case noise, rician, blur, gamma
    case brightnessContrast = "brightness_contrast"
    case biasField = "bias_field"
    case labelSynthesis = "label_synthesis"
    case motion, ghosting, spike, undersample
    /// Applies one of `oneOf`, chosen uniformly.
    case oneOf = "one_of"

    public var isSpatial: Bool { [.flip, .affine, .elastic].contains(self) }
}

/// One entry of an augmentation pipeline: the transform, its probability and its parameter ranges.
/// Unset parameters take the defaults listed on each field (TorchIO's defaults where it has one).
/// Ranges are `[lo, hi]`; a single value `v` means `[-v, v]` (angles, shifts) or `[0, v]` (std).
public struct AugmentSpec: Codable, Equatable, Sendable {
    public var transform: AugmentKind
    /// Probability of applying (default 1).
    public var p: Double?
    /// flip, anisotropy, ghosting, undersample: candidate voxel axes (flip default [0]; others [0,1,2]).
    public var axes: [Int]?
    /// affine, motion: rotation range in degrees (default 10).
    public var degrees: [Double]?
    /// affine: scale range (default [0.9, 1.1]); `isotropic` draws one scale for all axes.
    public var scales: [Double]?
    public var isotropic: Bool?
    /// affine, motion: translation range in mm (default 0 for affine, 10 for motion).
    public var translation: [Double]?
    /// affine: shear range (default 0).
    public var shear: [Double]?
    /// elastic: control points per axis (default 7) and maximum displacement in mm (default 7.5).
    public var controlPoints: Int?
    public var maxDisplacement: Double?
    /// anisotropy: down-sampling factor range (default [1.5, 5]).
    public var downsampling: [Double]?
    /// noise, rician: std range (default [0, 0.25]); label_synthesis: per-label std range (default [0, 0.1]).
    public var std: [Double]?
    /// blur: std range in mm (default [0, 2]).
    public var sigma: [Double]?
    /// gamma: log-gamma range (default [-0.3, 0.3]).
    public var logGamma: [Double]?
    /// brightness_contrast: brightness as a fraction of the std (default [-0.1, 0.1]); contrast factor (default [0.75, 1.25]).
    public var brightness: [Double]?
    public var contrast: [Double]?
    /// bias_field (and label_synthesis): polynomial order (default 3) and coefficient range (default 0.5).
    public var order: Int?
    public var coefficients: [Double]?
    /// motion: number of moves (default 2).
    public var moves: Int?
    /// ghosting: number of ghosts (default [4, 10]); ghosting, spike: intensity (default [0.5, 1] and [1, 3]).
    public var ghosts: [Double]?
    public var intensity: [Double]?
    /// spike: number of spikes (default 1).
    public var spikes: Int?
    /// undersample: central fraction of k-space kept (default [0.2, 0.5]) and probability of keeping an outer line (default 0.25).
    public var fraction: [Double]?
    public var keep: Double?
    /// one_of: the alternatives.
    public var oneOf: [AugmentSpec]?

    public init(_ transform: AugmentKind, p: Double? = nil) {
        self.transform = transform
        self.p = p
    }
}

/// A seeded list of random transforms (the training-time augmentation). Encoded as
/// `{"version": 1, "seed": 7, "transforms": [{"transform": "flip"}, {"transform": "noise", "p": 0.5}]}`.
public struct AugmentPipeline: Codable, Equatable, Sendable {
    public var version: Int = 1
    public var seed: UInt64?
    public var transforms: [AugmentSpec]

    public init(transforms: [AugmentSpec], seed: UInt64? = nil) {
        self.transforms = transforms
        self.seed = seed
    }

    public static func decode(_ data: Data, source: String) throws -> AugmentPipeline {
        let p: AugmentPipeline
        do {
            p = try JSONDecoder().decode(AugmentPipeline.self, from: data)
        } catch {
            throw TransformError.badDescription(source: source, reason: "not an augmentation description: \(error)")
        }
        guard p.version == 1 else { throw TransformError.badDescription(source: source, reason: "unsupported version \(p.version)") }
        return p
    }

    /// Parses a short list such as `"flip,affine@0.5,noise"`: transform names separated by commas,
    /// each with an optional `@probability`; parameters take their defaults.
    public static func parse(spec: String) throws -> AugmentPipeline {
        var items = [AugmentSpec]()
        for part in spec.split(separator: ",") {
            let bits = part.trimmingCharacters(in: .whitespaces).split(separator: "@")
            guard let first = bits.first, let kind = AugmentKind(rawValue: String(first)), kind != .oneOf, bits.count <= 2 else {
                throw TransformError.invalidParameter(
                    name: "transform", value: String(part),
                    expected: "one of " + AugmentKind.allCases.filter { $0 != .oneOf }.map(\.rawValue).joined(separator: ", ") + " (optionally NAME@P)")
            }
            var item = AugmentSpec(kind)
            if bits.count == 2 {
                guard let p = Double(bits[1]), p >= 0, p <= 1 else {
                    throw TransformError.invalidParameter(name: "probability", value: String(bits[1]), expected: "a number in 0...1")
                }
                item.p = p
            }
            items.append(item)
        }
        guard !items.isEmpty else { throw TransformError.invalidParameter(name: "transforms", value: spec, expected: "at least one transform") }
        return AugmentPipeline(transforms: items)
    }

    /// Applies the transforms in order with randomness from `seed` (or the pipeline's own seed).
    /// Entry t draws from `SeededGenerator(seed).split(stream: t)`, so the same seed gives
    /// bit-identical output on any number of threads, and entries don't disturb each other's draws.
    public func apply(to sample: Sample, seed: UInt64? = nil) throws -> (Sample, [AppliedTransform]) {
        for l in sample.labels where l.shape3 != sample.image.shape3 {
            throw TransformError.gridMismatch(what: "label map", expected: sample.image.shape3, actual: l.shape3)
        }
        let root = SeededGenerator(seed: seed ?? self.seed ?? 0)
        var s = sample
        var record = [AppliedTransform]()
        for (t, spec) in transforms.enumerated() {
            var rng = root.split(stream: UInt64(t))
            guard rng.bernoulli(spec.p ?? 1) else { continue }
            var chosen = spec
            if spec.transform == .oneOf {
                guard let options = spec.oneOf, !options.isEmpty else {
                    throw TransformError.invalidParameter(name: "one_of", value: "[]", expected: "a list of transforms")
                }
                chosen = options[rng.int(in: 0...(options.count - 1))]
                guard chosen.transform != .oneOf, rng.bernoulli(chosen.p ?? 1) else { continue }
            }
            let params = try Augmenter.apply(chosen, to: &s, rng: &rng)
            if !chosen.transform.isSpatial {
                // New intensities are real values: store them as such.
                s.image.storedType = .float32
                s.image.scaling = .identity
            }
            record.append(AppliedTransform(name: chosen.transform.rawValue, parameters: params))
        }
        return (s, record)
    }
}
