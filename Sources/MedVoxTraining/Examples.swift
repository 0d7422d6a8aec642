import MedVoxCore
import MedVoxTensor
import MedVoxTransforms

/// One training or evaluation example: network input voxels (patch order: i fastest, then j, k)
/// and its target (a label patch for segmentation, a class index for classification).
public struct Example: Sendable {
    public var image: [Float]
    public var labels: [Float]?
    public var classIndex: Int?
}

/// Where training examples come from. Example `n` depends only on the run's seed and `n` (it
/// draws from `SeededGenerator(seed).split(stream: n)`), so a resumed run sees exactly the
/// examples an uninterrupted run would, on any number of threads.
public struct ExampleSource: Sendable {
    public enum Kind: Sendable {
        /// Patches of image/label cases (for `--synth-from`, the "image" is the label map and the
        /// augmentation starts with label synthesis).
        case segmentation(cases: [PreparedCase], sampler: PatchSampler)
        /// Whole (fixed-shape) images with their classes.
        case classification(cases: [PreparedCase])
        /// Artefact classes synthesised on the cases: example n has class n mod count; class c
        /// applies `artefacts[c]` (nil: clean) after the common augmentation.
        case artefacts(cases: [PreparedCase], artefacts: [AugmentSpec?])
        /// Artefact classes synthesised on whole-head images (`SynthesisedHeads`), as `artefacts`;
        /// noise goes on the head's grid before the preprocessing (`SynthesisedHeads.acquisitionArtefact`).
        case heads(SynthesisedHeads, artefacts: [AugmentSpec?])
    }

    public var kind: Kind
    public var augmentation: AugmentPipeline
    /// Context added around a segmentation patch before augmentation (voxels per side, i/j/k), so
    /// spatial transforms pull in real anatomy instead of padding.
    public var margin: [Int]
    /// Steps re-applied after augmentation (classification: the pipeline's intensity steps, so
    /// the network sees intensities normalised as at inference).
    public var renormalise: PreprocessPipeline?

    public init(kind: Kind, augmentation: AugmentPipeline, margin: [Int] = [0, 0, 0], renormalise: PreprocessPipeline? = nil) {
        self.kind = kind
        self.augmentation = augmentation
        self.margin = margin
        self.renormalise = renormalise
    }

    /// Example number `n` of a run seeded with `seed`.
    public func example(_ n: Int, seed: UInt64) throws -> Example {
        var rng = SeededGenerator(seed: seed).split(stream: UInt64(n))
        switch kind {
        case let .segmentation(cases, sampler):
            let c = cases[rng.int(in: 0...(cases.count - 1))]
            let box = sampler.box(dims: c.image.shape3, foreground: c.foreground,
                                  centredOnForeground: sampler.isForeground(sampleIndex: n), rng: &rng)
            let big = VoxelBox(start: (0..<3).map { box.start[$0] - margin[$0] }, size: (0..<3).map { box.size[$0] + 2 * margin[$0] })
            let sample = Sample(image: try c.image.extracted(big), labels: [try c.label!.extracted(big)])
            let (aug, _) = try augmentation.apply(to: sample, seed: rng.next())
            let inner = VoxelBox(start: margin, size: box.size)
            return Example(image: try aug.image.extracted(inner).voxels, labels: try aug.labels[0].extracted(inner).voxels)
        case let .classification(cases):
            let c = cases[rng.int(in: 0...(cases.count - 1))]
            let (aug, _) = try augmentation.apply(to: Sample(image: c.image), seed: rng.next())
            return Example(image: try normalised(aug.image).voxels, classIndex: c.classIndex)
        case let .artefacts(cases, artefacts):
            let c = cases[rng.int(in: 0...(cases.count - 1))]
            let k = n % artefacts.count
            let image = try artefactVariant(c.image, artefact: artefacts[k], seed: rng.next())
            return Example(image: image.voxels, classIndex: k)
        case let .heads(heads, artefacts):
            let k = n % artefacts.count
            let acquisition = SynthesisedHeads.acquisitionArtefact(artefacts[k])
            let base = try heads.pooledImage(rng: &rng, acquisition: acquisition)
            let image = try artefactVariant(base, artefact: acquisition == nil ? artefacts[k] : nil, seed: rng.next())
            return Example(image: image.voxels, classIndex: k)
        }
    }

    /// `image` with the common augmentation and then `artefact` (nil: none), renormalised.
    public func artefactVariant(_ image: Volume, artefact: AugmentSpec?, seed: UInt64) throws -> Volume {
        var (aug, _) = try augmentation.apply(to: Sample(image: image), seed: seed)
        if var a = artefact {
            a.p = 1
            (aug, _) = try AugmentPipeline(transforms: [a]).apply(to: aug, seed: seed ^ 0xA27E_FAC7)
        }
        return try normalised(aug.image)
    }

    func normalised(_ v: Volume) throws -> Volume {
        guard let r = renormalise else { return v }
        return try r.apply(to: v).image
    }
}

/// Batches examples into an input tensor `[B, 1, spatial…]` and a target: label patches
/// `[B, 1, spatial…]` or class indices `[B]` (as Floats).
func batchTensors(_ examples: [Example], spatialShape: [Int]) -> (input: Tensor, target: Tensor) {
    let b = examples.count
    var input: [Float] = []
    input.reserveCapacity(b * spatialShape.reduce(1, *))
    for e in examples { input += e.image }
    let x = Tensor(shape: [b, 1] + spatialShape, storage: input)
    if examples[0].labels != nil {
        var t: [Float] = []
        for e in examples { t += e.labels! }
        return (x, Tensor(shape: [b, 1] + spatialShape, storage: t))
    }
    return (x, Tensor(shape: [b], storage: examples.map { Float($0.classIndex!) }))
}
