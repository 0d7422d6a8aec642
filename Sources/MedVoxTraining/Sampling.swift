import MedVoxCore
import MedVoxIO
import MedVoxTransforms

/// A case ready for sampling: the preprocessed image (for `--synth-from`, the label map itself)
/// and label map on one grid, or the image and its class.
public struct PreparedCase: Sendable {
    public var id: String
    public var image: Volume
    public var label: Volume?
    public var classIndex: Int?
    /// Linear indices (first frame) of the labelled voxels (label > 0), for foreground sampling.
    public var foreground: [Int32]

    public init(id: String, image: Volume, label: Volume?, classIndex: Int? = nil) {
        self.id = id
        self.image = image
        self.label = label
        self.classIndex = classIndex
        var fg: [Int32] = []
        if let label { for (i, v) in label.voxels.prefix(label.frameCount).enumerated() where v > 0.5 { fg.append(Int32(i)) } }
        foreground = fg
    }

    /// Reads a case from disk and applies `pipeline` (spatial steps to the image and the label map
    /// together, labels with nearest interpolation). Label values must be integers in
    /// `0..<classes` (when `classes` is given).
    public static func load(_ c: TrainingCase, pipeline: PreprocessPipeline, classes: Int?) throws -> PreparedCase {
        var label: Volume?
        if let lp = c.label {
            let l = try ImageFile.read(lp)
            if let classes {
                for v in l.voxels where v != v.rounded() || v < 0 || Int(v) >= classes {
                    throw TrainingError.badData(path: lp, reason: "label value \(v) is not an integer in 0..<\(classes)")
                }
            }
            label = l
        }
        guard let ip = c.image else {
            // Label map alone: only the spatial steps, applied to the labels.
            let spatial = PreprocessPipeline(steps: pipeline.steps.filter { $0.isSpatial && $0.op != .cropForeground })
            let r = try spatial.apply(to: label!, labels: [label!])
            return PreparedCase(id: c.id, image: r.labels[0], label: r.labels[0])
        }
        let image = try ImageFile.read(ip).frame(0)
        if let l = label, l.shape3 != image.shape3 {
            throw TrainingError.badData(path: c.label!, reason: "label grid \(l.shape3) differs from the image's \(image.shape3) (\(ip))")
        }
        let r = try pipeline.apply(to: image, labels: label.map { [$0] } ?? [])
        return PreparedCase(id: c.id, image: r.image, label: r.labels.first, classIndex: c.classIndex)
    }
}

/// Chooses training patches as nnU-Net does: most at a uniformly random position, and every
/// `foregroundEvery`-th sample (one third by default) centred on a random labelled voxel, so small
/// structures are seen often enough.
public struct PatchSampler: Sendable, Equatable {
    /// Patch size in voxels along i, j, k (a 2D model: k = 1).
    public var patch: [Int]
    /// Sample n (0-based, counted over the whole run) is foreground-centred when
    /// `n % foregroundEvery == foregroundEvery − 1`; 0 turns foreground sampling off.
    public var foregroundEvery: Int

    public init(patch: [Int], foregroundEvery: Int = 3) {
        self.patch = patch
        self.foregroundEvery = foregroundEvery
    }

    public func isForeground(sampleIndex n: Int) -> Bool {
        foregroundEvery > 0 && n % foregroundEvery == foregroundEvery - 1
    }

    /// A patch-sized box in the volume `dims`. Random boxes lie inside the volume where it is
    /// large enough (centred where it is smaller); foreground boxes are centred on a labelled voxel
    /// and shifted inside the volume where possible. Without foreground a random box is returned.
    public func box(dims: [Int], foreground: [Int32], centredOnForeground: Bool, rng: inout SeededGenerator) -> VoxelBox {
        var start = [Int](repeating: 0, count: 3)
        if centredOnForeground && !foreground.isEmpty {
            let v = Int(foreground[rng.int(in: 0...(foreground.count - 1))])
            let c = [v % dims[0], (v / dims[0]) % dims[1], v / (dims[0] * dims[1])]
            for a in 0..<3 {
                let s = c[a] - patch[a] / 2
                start[a] = dims[a] >= patch[a] ? min(max(s, 0), dims[a] - patch[a]) : s
            }
        } else {
            for a in 0..<3 {
                start[a] = dims[a] >= patch[a] ? rng.int(in: 0...(dims[a] - patch[a])) : (dims[a] - patch[a]) / 2
            }
        }
        return VoxelBox(start: start, size: patch)
    }
}
