import MedVoxTransforms

/// Named augmentation recipes for `medvox train --augment NAME` (anything else is parsed as
/// `AugmentPipeline.parse(spec:)` or read as a JSON file).
public enum AugmentRecipes {
    static func spec(_ k: AugmentKind, p: Double, _ edit: (inout AugmentSpec) -> Void = { _ in }) -> AugmentSpec {
        var s = AugmentSpec(k, p: p)
        edit(&s)
        return s
    }

    /// Strong spatial and contrast augmentation for segmentation (nnU-Net's spatial set plus
    /// SynthSeg-style label→intensity synthesis on half the patches, bias, gamma, anisotropy, noise).
    public static let strong = AugmentPipeline(transforms: [
        spec(.flip, p: 1) { $0.axes = [0] },
        spec(.affine, p: 0.8) {
            $0.degrees = [15]
            $0.scales = [0.85, 1.15]
        },
        spec(.elastic, p: 0.3) {
            $0.controlPoints = 5
            $0.maxDisplacement = 6
        },
        spec(.labelSynthesis, p: 0.5),
        spec(.biasField, p: 0.5) { $0.coefficients = [0.4] },
        spec(.gamma, p: 0.3),
        spec(.brightnessContrast, p: 0.3),
        spec(.anisotropy, p: 0.25) { $0.downsampling = [1.5, 3] },
        spec(.noise, p: 0.3) { $0.std = [0, 0.05] },
    ])

    /// Held-out variants for evaluating segmentation: every transform applied (moderate ranges), no
    /// label synthesis, so the variants are realistic T1 images the network never saw.
    public static let heldOut = AugmentPipeline(transforms: [
        spec(.affine, p: 1) {
            $0.degrees = [10]
            $0.scales = [0.9, 1.1]
        },
        spec(.elastic, p: 1) {
            $0.controlPoints = 6
            $0.maxDisplacement = 5
        },
        spec(.biasField, p: 1) { $0.coefficients = [0.3] },
        spec(.gamma, p: 1) { $0.logGamma = [-0.2, 0.2] },
        spec(.anisotropy, p: 0.5) { $0.downsampling = [1.5, 2.5] },
        spec(.noise, p: 1) { $0.std = [0.01, 0.04] },
    ])

    /// Common augmentation for scan-quality classification: pose and contrast only (the artefacts
    /// are the classes).
    public static let qcBase = AugmentPipeline(transforms: [
        spec(.flip, p: 1) { $0.axes = [0] },
        spec(.affine, p: 1) {
            $0.degrees = [8]
            $0.scales = [0.92, 1.08]
            $0.translation = [4]
        },
        spec(.gamma, p: 0.5) { $0.logGamma = [-0.2, 0.2] },
    ])

    /// Scan-quality classes: clean, motion, ghosting, spike, noise, bias field.
    public static let qcArtefacts: [AugmentSpec?] = [
        nil,
        spec(.motion, p: 1),
        spec(.ghosting, p: 1),
        spec(.spike, p: 1),
        spec(.noise, p: 1) { $0.std = [0.05, 0.15] },
        spec(.biasField, p: 1) { $0.coefficients = [0.6] },
    ]
    /// Scan-quality classes on synthesised whole heads: as `qcArtefacts`, with heavy noise either
    /// Gaussian or Rician (magnitude images), σ 0.04–0.2 of the brightest tissue on the head's grid
    /// before the resampling to the network's grid (`SynthesisedHeads.acquisitionArtefact`).
    public static let qcHeadArtefacts: [AugmentSpec?] = [
        nil,
        spec(.motion, p: 1),
        spec(.ghosting, p: 1),
        spec(.spike, p: 1),
        spec(.oneOf, p: 1) {
            $0.oneOf = [spec(.noise, p: 1) { $0.std = [0.04, 0.2] }, spec(.rician, p: 1) { $0.std = [0.04, 0.2] }]
        },
        spec(.biasField, p: 1) { $0.coefficients = [0.6] },
    ]
    public static let qcClassNames = ["clean", "motion", "ghosting", "spike", "noise", "bias"]

    public static func named(_ name: String) -> AugmentPipeline? {
        switch name {
        case "strong": return strong
        case "held-out": return heldOut
        case "qc": return qcBase
        case "none": return AugmentPipeline(transforms: [])
        default: return nil
        }
    }
}
