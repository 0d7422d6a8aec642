import MedVoxCore

/// How the sliding window is laid out.
public struct SegmentationOptions: Sendable {
    public enum Window: Sendable, Equatable {
        /// The card's patch size (what the network was trained on), `overlap` between neighbours.
        case patch
        /// The largest windows the memory budget allows (fewer windows, less recomputation);
        /// neighbours overlap by `minimumOverlap` voxels, blended only there.
        case largest
        /// A given window size (i, j, k voxels; rounded up to what the network accepts).
        case fixed([Int])
    }
    public var window: Window = .patch
    /// Fraction of the window shared by neighbours (`.patch`, `.fixed`), in [0, 1).
    public var overlap: Double = 0.5
    /// Voxels shared by neighbouring windows with `.largest`.
    public var minimumOverlap: Int = 32
    /// Mirroring test-time augmentation: average the logits over every flip of the spatial axes.
    public var tta = false
    /// Apply the card's post-processing (or `PostprocessSpec.default`).
    public var postprocess = true
    /// Also return per-class probability maps on the input grid.
    public var probabilities = false
    /// Bytes the run may use (window activations + accumulators); default `Runtime.maxMemory`.
    public var memoryBudget: Int = Runtime.maxMemory
    /// Finalise (softmax → argmax) slab by slab as windows complete (true), or accumulate
    /// full-volume logits first (false: the naive reference path, for tests).
    public var streaming = true

    public init() {}
}
