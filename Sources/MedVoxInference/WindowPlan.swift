import MedVoxCore

/// Window planning: the window size the sliding window uses, from the card's patch size, the
/// network's size multiple and the memory budget (`SegmentationOptions.window`, `memoryBudget`).
extension Segmenter {
    /// Estimated peak bytes of one forward pass on a window of `w` (i, j, k) voxels: per level, the
    /// live feature maps of a decoder block (skip, up-sampled, the first convolution's padded copy
    /// of both: ≈ 4 maps of that level's width) with a margin for the heap's fragmentation (6.5
    /// maps), plus input, logits and the TTA sum. Measured (VmHWM) on the MNI template with the
    /// 16–256 U-Net, 2 windows of 208×240×112: 2.80 GB with the CLI's heap reuse against 3.4 GB
    /// estimated for forward, accumulators and images together.
    public func forwardBytes(window w: [Int]) -> Int {
        let voxels = Double(w.reduce(1, *))
        let shrink = Double(rank == 3 ? 8 : 4)
        var floats = voxels * Double(model.card.architecture.inChannels * 2 + classes * 3)
        var v = voxels
        for f in model.card.architecture.features ?? [] {
            floats += 6.5 * Double(f) * v
            v /= shrink
        }
        return Int(floats * 4)
    }

    /// Bytes of the logit/weight accumulators for a slab of `depth` planes of `dims` (i, j).
    func accumulatorBytes(dims: [Int], depth: Int) -> Int {
        (classes + 1) * dims[0] * dims[1] * depth * 4
    }

    /// The largest window `.largest` picks, in voxels, whatever the budget. Beyond it a pass costs
    /// more per voxel than the overlap it saves: on the MNI template (16–256 U-Net, 2 threads) one
    /// 208×240×192 window (9.6 M voxels, 4.7 GB) took 10.5–12.9 s against 8.4–8.5 s for two of
    /// 208×240×112 (5.6 M voxels each, 14% of them computed twice, 2.8 GB).
    public static let largestWindowVoxels = 6 << 20

    /// Chooses the window size for a preprocessed grid of `dims` (i, j, k).
    public func chooseWindow(dims: [Int]) throws -> [Int] {
        let m = multiples
        let full = (0..<3).map { roundUp(dims[$0], to: m[$0]) }
        if let fixed = model.card.architecture.inputSize {
            // An imported network with a fixed input size takes windows of exactly that size.
            return rank == 3 ? fixed : fixed + [1]
        }
        switch options.window {
        case .largest:
            return try largestWindow(dims: dims, full: full)
        case .patch:
            var p = model.card.input.patchSize
            if p.count == 2 { p.append(1) }
            if rank == 2 { p[2] = 1 }
            return try fittedWindow((0..<3).map { min(roundUp(p[$0], to: m[$0]), full[$0]) }, dims: dims)
        case let .fixed(f):
            return try fittedWindow((0..<3).map { min(roundUp(f[$0], to: m[$0]), full[$0]) }, dims: dims)
        }
    }

    /// `x` rounded up to a multiple of `m` (at least `m`).
    func roundUp(_ x: Int, to m: Int) -> Int { max(m, (x + m - 1) / m * m) }

    /// Planned bytes of a run with windows of `w` on a grid of `dims`: one forward pass, the
    /// accumulators of a slab (or of the whole padded grid without streaming), the preprocessed
    /// image and the label map.
    func plannedBytes(window w: [Int], dims: [Int]) -> Int {
        let padded = (0..<3).map { max(dims[$0], w[$0]) }
        let slab = options.streaming ? w[2] : padded[2]
        return forwardBytes(window: w) + accumulatorBytes(dims: padded, depth: slab) + dims.reduce(1, *) * 4 * 2
    }

    /// `.largest`: of every window shape (multiples of what the network accepts, up to `full`)
    /// that fits the budget, the one computing the fewest voxels (windows × window size); ties:
    /// fewer windows.
    func largestWindow(dims: [Int], full: [Int]) throws -> [Int] {
        let m = multiples
        let sizes = (0..<3).map { a in Array(stride(from: m[a], through: full[a], by: m[a])) }
        var best: (cost: Int, count: Int, w: [Int])?
        for sk in sizes[2] {
            for sj in sizes[1] {
                for si in sizes[0] {
                    let c = [si, sj, sk]
                    guard plannedBytes(window: c, dims: dims) <= options.memoryBudget,
                        c.reduce(1, *) <= Self.largestWindowVoxels || c == m
                    else { continue }
                    let counts = (0..<3).map { windowStarts(size: max(dims[$0], c[$0]), window: c[$0]).count }
                    let n = counts.reduce(1, *)
                    let cost = n * c.reduce(1, *)
                    if best == nil || cost < best!.cost || (cost == best!.cost && n < best!.count) { best = (cost, n, c) }
                }
            }
        }
        guard let b = best else {
            throw InferenceError.tooLarge(what: "the smallest window \(m)", bytes: plannedBytes(window: m, dims: dims), limit: options.memoryBudget)
        }
        return b.w
    }

    /// `window` with its largest axis shrunk until the run fits the memory budget.
    func fittedWindow(_ window: [Int], dims: [Int]) throws -> [Int] {
        let m = multiples
        var w = window
        while plannedBytes(window: w, dims: dims) > options.memoryBudget {
            let axis = (0..<3).filter { w[$0] > m[$0] }.max { w[$0] < w[$1] }
            guard let a = axis else {
                throw InferenceError.tooLarge(what: "the smallest window \(w)", bytes: plannedBytes(window: w, dims: dims), limit: options.memoryBudget)
            }
            let smaller = roundUp(w[a] * 3 / 4, to: m[a])
            w[a] = smaller < w[a] ? smaller : w[a] - m[a]
        }
        return w
    }

    /// Window origins along one axis of `size` voxels (padded to at least `window`): `overlap`
    /// for patch and fixed windows, `minimumOverlap` voxels for the largest windows.
    func windowStarts(size: Int, window: Int) -> [Int] {
        let overlap = options.window == .largest ? min(0.9, Double(options.minimumOverlap) / Double(window)) : options.overlap
        return SlidingWindow.starts(size: size, patch: window, overlap: overlap)
    }
}
