/// The batch, channel and spatial extents of an image tensor `[N, C, s0, s1, …]` with one to
/// three spatial axes, padded at the front to three (`d`, `h`, `w`) so that every N-d operation
/// is written once: a 2D `[N, C, H, W]` tensor is `d = 1`.
public struct ImageShape: Equatable, Sendable {
    public var n: Int, c: Int
    /// Spatial extents padded to three axes (depth, height, width).
    public var d: Int, h: Int, w: Int
    /// How many spatial axes the original shape had (1, 2 or 3).
    public var spatialRank: Int

    public init(_ shape: [Int]) {
        precondition(shape.count >= 3 && shape.count <= 5, "expected [N, C, spatial…] with 1–3 spatial axes, got \(shape)")
        n = shape[0]
        c = shape[1]
        let s = Array(repeating: 1, count: 5 - shape.count) + shape[2...]
        d = s[0]
        h = s[1]
        w = s[2]
        spatialRank = shape.count - 2
    }

    public var spatialCount: Int { d * h * w }
    public var spatial: [Int] { Array([d, h, w].suffix(spatialRank)) }

    /// The shape `[n, c] + spatial` (unpadded) for new spatial extents given as three axes.
    public func shape(n: Int? = nil, c: Int? = nil, d: Int, h: Int, w: Int) -> [Int] {
        [n ?? self.n, c ?? self.c] + Array([d, h, w].suffix(spatialRank))
    }
}

/// Pads a per-axis parameter given for `rank` spatial axes to three axes with `fill` in front.
@inlinable func padTo3(_ v: [Int], rank: Int, fill: Int) -> [Int] {
    precondition(v.count == rank, "expected \(rank) values (one per spatial axis), got \(v)")
    return Array(repeating: fill, count: 3 - rank) + v
}
