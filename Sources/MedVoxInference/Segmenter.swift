import Foundation
import MedVoxCore
import MedVoxNN
import MedVoxTensor
import MedVoxTransforms

/// Runs a segmentation model on a volume: preprocess as the card says, sliding-window inference
/// with Gaussian blending (nnU-Net's scheme, Isensee et al. 2021), optional mirroring TTA,
/// softmax and argmax slab by slab, restore onto the input grid, post-process.
///
/// Memory is bounded: logits are accumulated only over the slab of planes that the current row
/// of windows covers; planes that no later window touches are finalised (softmax → argmax) and
/// their accumulators reused, so the full-resolution float logits of all classes never exist at
/// once (unless probability maps are asked for, which are then the output).
///
/// ```swift
/// let model = try LoadedModel.load("brain-tissue")
/// let result = try Segmenter(model: model).segment(try ImageFile.read("t1.nii.gz"))
/// try ImageFile.write(result.mask, to: "mask.nii.gz", as: .uint8)
/// ```
public final class Segmenter {
    public let model: LoadedModel
    public var options: SegmentationOptions
    /// The network (a native U-Net or an imported graph) and the multiple its sizes must be of.
    let network: Module
    let sizeMultiple: Int

    public init(model: LoadedModel, options: SegmentationOptions = SegmentationOptions()) throws {
        let multiple = (model.network as? UNet)?.sizeMultiple
            ?? (model.network is GraphNetwork ? model.card.architecture.sizeMultiple ?? 1 : nil)
        guard model.card.task == .segmentation, let multiple else {
            throw InferenceError.wrongTask(model: model.card.name, expected: "segmentation")
        }
        guard model.card.labels.allSatisfy({ (0...255).contains($0.value) }) else {
            throw ModelError.invalidCard(path: model.cardPath, reason: "segmentation label values must be 0...255 (uint8 masks)")
        }
        self.model = model
        self.options = options
        self.network = model.network
        self.sizeMultiple = multiple
        model.network.setTraining(false)
    }

    var rank: Int { model.card.architecture.spatialRank }
    var classes: Int { model.card.architecture.classes }

    /// Sizes a window must be a multiple of, per axis (i, j, k); a 2D model runs slice by slice.
    var multiples: [Int] {
        let m = sizeMultiple
        return rank == 3 ? [m, m, m] : [m, m, 1]
    }

    /// Segments `volume` (any grid; `modality` from the DICOM header when known): preprocess,
    /// sliding window on the preprocessed grid, restore onto the input grid, post-process.
    public func segment(_ volume: Volume, modality: String? = nil) throws -> SegmentationResult {
        let inChannels = model.card.architecture.inChannels
        guard volume.frames == inChannels else {
            throw InferenceError.channelMismatch(model: model.card.name, expected: inChannels, actual: volume.frames)
        }
        var seconds: [String: Double] = [:]
        func timed<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
            let t0 = Date()
            defer { seconds[stage] = Date().timeIntervalSince(t0) }
            return try body()
        }
        let pre = try timed("preprocess") { try model.card.preprocessing.apply(to: volume) }
        let dims = pre.image.shape3
        let (window, run) = try timed("inference") {
            let window = try chooseWindow(dims: dims)
            return (window, try slidingWindow(image: pre.image.voxels, dims: dims, window: window))
        }
        var (mask, probabilities) = try timed("restore") { try restore(run, preprocessed: pre, onto: volume) }
        if options.postprocess {
            mask.voxels = timed("postprocess") {
                postprocessLabelMap(mask.voxels, dims: mask.shape3, spec: model.card.postprocessing ?? .default)
            }
        } else {
            seconds["postprocess"] = 0
        }
        return SegmentationResult(
            mask: volume.frame(0).withVoxels(mask.voxels, storedType: .uint8), probabilities: probabilities,
            warnings: model.card.inputWarnings(for: volume, modality: modality),
            window: window, windowCount: run.windowCount, preprocessedDims: dims,
            plannedForwardBytes: forwardBytes(window: window),
            plannedAccumulatorBytes: run.accumulatorBytes, seconds: seconds)
    }

    /// The sliding window's class indices as the card's label values, and its probabilities when
    /// it has them, moved from the preprocessed grid back onto `volume`'s (nearest neighbour for
    /// labels, linear for probabilities; one frame per class).
    func restore(_ run: WindowRun, preprocessed pre: PreprocessResult, onto volume: Volume) throws -> (mask: Volume, probabilities: Volume?) {
        let labelValues = model.card.labels.map { Float($0.value) }
        let preMask = pre.image.withVoxels(run.labels.map { labelValues[Int($0)] }, storedType: .uint8)
        let mask = try pre.restore(preMask, interpolation: .nearest)
        guard let probs = run.probabilities else { return (mask, nil) }
        let n = pre.image.shape3.reduce(1, *)
        var all: [Float] = []
        all.reserveCapacity(volume.frameCount * classes)
        for c in 0..<classes {
            let p = pre.image.withVoxels(Array(probs[(c * n)..<((c + 1) * n)]))
            all += try pre.restore(p, interpolation: .linear).voxels
        }
        return (mask, Volume(dims: volume.shape3 + [classes], spacing: volume.spacing, affine: volume.affine, voxels: all))
    }

    /// The output of the sliding window on the preprocessed grid.
    public struct WindowRun {
        /// Class index (0..<classes) per voxel, i fastest.
        public var labels: [UInt8]
        /// Softmax probabilities, class-major (`classes` blocks of the grid), when asked for.
        public var probabilities: [Float]?
        public var windowCount: Int
        public var accumulatorBytes: Int
    }

    /// Sliding-window inference over a preprocessed image (`inChannels` frames of `dims`, i
    /// fastest) with windows of `window` voxels: Gaussian-weighted logit averaging, mirroring TTA
    /// when asked, and slab-by-slab finalisation (softmax, argmax) when `options.streaming`.
    public func slidingWindow(image: [Float], dims: [Int], window w: [Int]) throws -> WindowRun {
        let padded = (0..<3).map { max(dims[$0], w[$0]) }
        let starts = (0..<3).map { windowStarts(size: padded[$0], window: w[$0]) }
        let gauss = SlidingWindow.gaussianWeights(patch: w)
        // A slab holds one row of windows.
        var acc = LogitAccumulator(classes: classes, dims: dims, padded: padded, depth: options.streaming ? w[2] : padded[2])
        var labels = [UInt8](repeating: 0, count: dims.reduce(1, *))
        let probs: UnsafeMutableBufferPointer<Float>? = options.probabilities ? .allocate(capacity: classes * labels.count) : nil
        probs?.initialize(repeating: 0)
        defer { probs?.deallocate() }
        let windowCount = starts.map(\.count).reduce(1, *)
        let progress = Progress("segment", total: windowCount)
        defer { progress.finish() }
        for z0 in starts[2] {
            if options.streaming && z0 > acc.base {
                // Planes before z0 are complete: finalise them and slide the slab.
                acc.finalise(acc.base, z0, labels: &labels, probabilities: probs?.baseAddress)
                acc.slide(to: z0)
            }
            for y0 in starts[1] {
                for x0 in starts[0] {
                    let origin = [x0, y0, z0]
                    let input = SlidingWindow.gather(image, dims: dims, channels: model.card.architecture.inChannels, window: w, origin: origin)
                    acc.add(forward(input), gauss: gauss, size: w, origin: origin)
                    progress.advance()
                }
            }
        }
        acc.finalise(acc.base, padded[2], labels: &labels, probabilities: probs?.baseAddress)
        return WindowRun(labels: labels, probabilities: probs.map { Array($0) }, windowCount: windowCount, accumulatorBytes: acc.bytes)
    }

    /// Logits of one window `[1, Cin, D, H, W]` → `[1, K, D, H, W]`, averaged over mirrored copies
    /// when TTA is on; no autograd graph is recorded. A 2D model sees `[1, Cin, H, W]` (D = 1).
    public func forward(_ x: Tensor) -> Tensor {
        let s = x.shape
        func net(_ t: Tensor) -> Tensor {
            if rank == 2 {
                let y = withoutGradients { network(Variable(t.reshaped([s[0], s[1], s[3], s[4]]))).value }
                return y.reshaped([s[0], classes, 1, s[3], s[4]])
            }
            return withoutGradients { network(Variable(t)).value }
        }
        return options.tta ? mirroredMean(x, axes: rank == 3 ? [4, 3, 2] : [4, 3], net) : net(x)
    }
}

