import MedVoxCore

/// What `Segmenter.segment` returns.
public struct SegmentationResult: Sendable {
    /// Label values (the card's), uint8 stored type, on the input's exact grid.
    public var mask: Volume
    /// Per-class probabilities (one frame per class, card order) on the input grid, if asked for.
    public var probabilities: Volume?
    /// Input/model mismatches worth telling the user (modality, spacing).
    public var warnings: [String]
    /// The window size used (i, j, k voxels on the preprocessed grid) and how many windows ran.
    public var window: [Int]
    public var windowCount: Int
    /// The preprocessed grid's size (i, j, k).
    public var preprocessedDims: [Int]
    /// Planned peak bytes of the network forward pass and of the accumulators.
    public var plannedForwardBytes: Int
    public var plannedAccumulatorBytes: Int
    /// Wall-clock seconds per stage: "preprocess", "inference", "restore", "postprocess".
    public var seconds: [String: Double]
}
