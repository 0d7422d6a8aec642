import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxTransforms

/// Clean, T1-like whole-head images with randomised contrast, for scan-quality training
/// (`medvox train --task classify --artefacts-from T1 --head-from LABELS`). Each image is a head
/// label map (`HeadSynthesis` around the template's brain labels) turned into intensities by one
/// of two recipes, drawn half the time each:
/// - the template's own T1 inside the brain (scaled by a random factor), random intensities for
///   the synthesised tissues around it;
/// - a random intensity per label everywhere (label synthesis without a bias field, so that "bias"
///   stays a class of its own).
/// Then: a random head size (the grid's voxel size scaled), a random field of view around the
/// head, a little noise (clean scans are not noise-free) and then the network's preprocessing. The
/// noise goes on the head's grid (about 1–2.3 mm voxels), before the preprocessing resamples to
/// the network's grid, as a scanner's noise is on the acquisition grid: resampling to coarser
/// voxels averages it down, as it does for a real scan. So can an artefact passed as
/// `acquisition` (heavy noise: see `acquisitionArtefact`). The background is zero (a masked or
/// phantom-like scan) or a low random level with the noise, half the time each; a fraction of
/// the images keep the brain only (a skull-stripped scan).
public struct SynthesisedHeads: Sendable {
    public var synthesis: HeadSynthesis
    /// Brain labels on the padded head grid (`HeadSynthesis.paddedGrid`).
    public var brain: Volume
    /// The template T1 on the same grid, scaled so that its 99th brain percentile is 1.
    public var t1: Volume?
    /// Head label maps drawn once for training (`poolSize` seeds); held-out images draw fresh heads.
    public var pool: [Volume]
    /// The network's preprocessing (resample, crop, pad, normalise).
    public var pipeline: PreprocessPipeline
    /// Physical size of the network's input (mm per axis): the field of view is drawn around it.
    public var fieldOfView: [Double]
    /// Head size factor range (1: the template's size).
    public var headScale: ClosedRange<Double> = 0.45...1.15
    /// Noise standard deviation range of clean images on the head's grid, relative to the
    /// brightest tissue (about 1).
    public var cleanNoise: ClosedRange<Double> = 0...0.02
    public var skullStrippedProbability = 0.15

    /// Reads the brain label map (and the T1 on its grid), resamples both to `spacing` mm, and
    /// draws `poolSize` heads from seeds `seed.split(stream: 0…)`.
    public static func load(
        labels: String, t1 path: String?, spacing: Double = 2, poolSize: Int = 24, seed: UInt64, pipeline: PreprocessPipeline,
        fieldOfView: [Double], synthesis: HeadSynthesis = HeadSynthesis()
    ) throws -> SynthesisedHeads {
        let labelMap = try ImageFile.read(labels)
        for v in labelMap.voxels where v != v.rounded() || v < 0 || v > Float(synthesis.brainLabelCount) {
            throw TrainingError.badData(path: labels, reason: "label value \(v) is not a brain label 0...\(synthesis.brainLabelCount)")
        }
        let sp = [spacing, spacing, spacing]
        let brain = try synthesis.paddedGrid(labelMap.reoriented(to: .ras).resampled(toSpacing: sp, interpolation: .nearest))
        var t1: Volume?
        if let path {
            let image = try ImageFile.read(path)
            guard image.shape3 == labelMap.shape3 else {
                throw TrainingError.badData(path: path, reason: "grid \(image.shape3) differs from the label map's \(labelMap.shape3) (\(labels))")
            }
            var v = try synthesis.paddedGrid(image.reoriented(to: .ras).resampled(toSpacing: sp, interpolation: .linear))
            guard v.shape3 == brain.shape3 else { throw TrainingError.badData(path: path, reason: "does not resample onto the label map's grid") }
            let inBrain = (0..<brain.count).filter { brain.voxels[$0] > 0.5 }.map { v.voxels[$0] }.sorted()
            let scale = inBrain.isEmpty ? 1 : max(1e-6, percentile(sorted: inBrain, 99))
            v.voxels = v.voxels.map { max(0, $0 / Float(scale)) }
            t1 = v
        }
        let pool = try (0..<poolSize).map { n in
            var g = SeededGenerator(seed: seed).split(stream: UInt64(n))
            return try synthesis.synthesise(onPadded: brain, seed: g.next())
        }
        return SynthesisedHeads(synthesis: synthesis, brain: brain, t1: t1, pool: pool, pipeline: pipeline, fieldOfView: fieldOfView)
    }

    /// The part of a scan-quality class's artefact that belongs on the acquisition grid: noise
    /// (Gaussian, Rician, or a choice among them) goes there; other artefacts (nil) are applied
    /// to the network's input.
    public static func acquisitionArtefact(_ artefact: AugmentSpec?) -> AugmentSpec? {
        guard let a = artefact else { return nil }
        let noise: Set<AugmentKind> = [.noise, .rician]
        if noise.contains(a.transform) { return a }
        if a.transform == .oneOf, let options = a.oneOf, !options.isEmpty, options.allSatisfy({ noise.contains($0.transform) }) { return a }
        return nil
    }

    /// A network input drawn with `rng` on one of the pooled heads (`acquisition`: an artefact
    /// applied on the head's grid, before the preprocessing).
    public func pooledImage(rng: inout SeededGenerator, acquisition: AugmentSpec? = nil) throws -> Volume {
        try cleanImage(head: pool[rng.int(in: 0...(pool.count - 1))], rng: &rng, acquisition: acquisition)
    }

    /// A network input drawn with `rng` on a head drawn from `seed` (not from the pool).
    public func freshImage(seed: UInt64, rng: inout SeededGenerator, acquisition: AugmentSpec? = nil) throws -> Volume {
        try cleanImage(head: try synthesis.synthesise(onPadded: brain, seed: seed), rng: &rng, acquisition: acquisition)
    }

    /// `head` turned into a preprocessed network input (see the type's summary), clean unless
    /// `acquisition` adds an artefact on the head's grid.
    public func cleanImage(head: Volume, rng: inout SeededGenerator, acquisition: AugmentSpec? = nil) throws -> Volume {
        let labelCount = HeadSynthesis.Tissue.allCases.map(\.rawValue).max()! + 1
        let brainTop = Float(synthesis.brainLabelCount) + 0.5
        let zeroBackground = rng.bernoulli(0.5)
        let stripped = rng.bernoulli(skullStrippedProbability)
        var means = (0..<labelCount).map { _ in Float(rng.uniform(0.05, 1)) }
        means[0] = zeroBackground ? 0 : Float(rng.uniform(0, 0.05))
        let template = t1 != nil && rng.bernoulli(0.5) ? t1 : nil
        let templateScale = Float(rng.uniform(0.6, 1))
        let lab = head.voxels
        var voxels = [Float](repeating: 0, count: lab.count)
        for p in 0..<lab.count {
            let l = lab[p]
            if stripped && l > brainTop { voxels[p] = means[0]; continue }
            if let t = template, l > 0.5 && l < brainTop {
                voxels[p] = templateScale * t.voxels[p]
            } else {
                voxels[p] = means[Int(l.rounded())]
            }
        }
        var image = head.withVoxels(voxels)
        // Head size: the same voxels on a grid of scaled voxel size, about the grid's centre.
        let s = rng.uniform(headScale.lowerBound, headScale.upperBound)
        let centre = image.worldPosition(Double(image.nx - 1) / 2, Double(image.ny - 1) / 2, Double(image.nz - 1) / 2)
        var rows = image.affine.rows
        for r in 0..<3 {
            for c in 0..<3 { rows[r][c] *= s }
            rows[r][3] = centre[r] + (rows[r][3] - centre[r]) * s
        }
        image.affine = Affine(rows: rows)
        image.spacing = image.spacing.map { $0 * s }
        // Field of view: a box of about the network's extent around the brain, shifted at random.
        let brainBox = try brain.foregroundBox(threshold: 0.5)!
        var start = [Int](), size = [Int]()
        for a in 0..<3 {
            let n = max(8, Int((fieldOfView[a] * rng.uniform(0.8, 1.25) / image.spacing[a]).rounded()))
            let c = Double(brainBox.start[a]) + Double(brainBox.size[a]) / 2 + rng.uniform(-12, 12) / image.spacing[a]
            start.append(Int((c - Double(n) / 2).rounded()))
            size.append(n)
        }
        image = try image.extracted(VoxelBox(start: start, size: size), value: means[0])
        var noise = AugmentSpec(.noise, p: 1)
        let sd = rng.uniform(cleanNoise.lowerBound, cleanNoise.upperBound)
        noise.std = [sd, sd]
        let noisy = try AugmentPipeline(transforms: [noise]).apply(to: Sample(image: image), seed: rng.next()).0.image
        image.voxels = zeroBackground ? zip(image.voxels, noisy.voxels).map { $0 > 0 ? $1 : 0 } : noisy.voxels
        let artefactSeed = rng.next()
        if var a = acquisition {
            a.p = 1
            image = try AugmentPipeline(transforms: [a]).apply(to: Sample(image: image), seed: artefactSeed).0.image
        }
        return try pipeline.apply(to: image).image
    }
}
