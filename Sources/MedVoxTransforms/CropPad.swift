import MedVoxCore

/// How values beyond the input are made when padding.
public enum PadMode: String, Codable, Sendable, CaseIterable {
    /// A constant value (0 unless given).
    case constant
    /// Repeat the edge voxel (numpy `edge`).
    case edge
    /// Mirror about the edge voxel without repeating it (numpy `reflect`: d c b | a b c d | c b a).
    case reflect
}

/// A box of voxels: `start` (may be negative: padding) and `size`, per axis.
public struct VoxelBox: Equatable, Sendable, Codable {
    public var start: [Int]
    public var size: [Int]
    public init(start: [Int], size: [Int]) {
        self.start = start
        self.size = size
    }
}

extension Volume {
    /// The region `box` of this volume: a crop where the box is inside, padding (by `mode`) where it
    /// reaches outside. The affine is shifted so every voxel keeps its world position.
    ///
    /// ```swift
    /// let roi = try t1.extracted(VoxelBox(start: [-4, 10, 0], size: [128, 128, 96]), mode: .edge)
    /// ```
    public func extracted(_ box: VoxelBox, mode: PadMode = .constant, value: Float = 0) throws -> Volume {
        guard box.start.count == 3, box.size.count == 3, box.size.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }) else {
            throw TransformError.invalidParameter(name: "box", value: "\(box)", expected: "three start indices and three sizes in 1...65536")
        }
        let d = shape3
        // Source index per output index on each axis (-1: constant fill).
        var tables = [[Int]]()
        for a in 0..<3 {
            let n = d[a]
            tables.append(
                (0..<box.size[a]).map { o -> Int in
                    let i = o + box.start[a]
                    if i >= 0 && i < n { return i }
                    switch mode {
                    case .constant: return -1
                    case .edge: return min(max(i, 0), n - 1)
                    case .reflect: return mirrorIndex(i, n)
                    }
                })
        }
        let outN = box.size[0] * box.size[1] * box.size[2]
        try checkAllocation("region \(box.size)", floats: outN * frames)
        var out = [Float](repeating: value, count: outN * frames)
        let inN = frameCount
        let (tx, ty, tz) = (tables[0], tables[1], tables[2])
        let (ox, oy, oz) = (box.size[0], box.size[1], box.size[2])
        voxels.withUnsafeBufferPointer { sp in
            out.withUnsafeMutableBufferPointer { op in
                let s = sp.baseAddress!, o = op.baseAddress!
                let rows = oy * oz * frames
                parallelFor(min(rows, 256)) { c in
                    for r in chunkRange(rows, part: c, of: min(rows, 256)) {
                        let j = r % oy, k = (r / oy) % oz, f = r / (oy * oz)
                        guard ty[j] >= 0, tz[k] >= 0 else { continue }
                        let srow = s + f * inN + (tz[k] * d[1] + ty[j]) * d[0]
                        let orow = o + r * ox
                        for i in 0..<ox where tx[i] >= 0 { orow[i] = srow[tx[i]] }
                    }
                }
            }
        }
        var t = Affine.identity
        for a in 0..<3 { t[a, 3] = Double(box.start[a]) }
        return onGrid(Grid(dims: box.size, affine: affine * t), voxels: out, frames: frames)
    }

    /// Padded or cropped symmetrically to `shape` (extra voxel of an odd difference at the end), as
    /// TorchIO's `CropOrPad` / MONAI's `ResizeWithPadOrCrop`. With all sizes ≤ the input: a centre crop.
    public func paddedOrCropped(to shape: [Int], mode: PadMode = .constant, value: Float = 0) throws -> Volume {
        guard shape.count == 3 else {
            throw TransformError.invalidParameter(name: "shape", value: "\(shape)", expected: "three sizes")
        }
        let start = (0..<3).map { a -> Int in
            let diff = shape3[a] - shape[a]
            return diff >= 0 ? diff / 2 : -((-diff) / 2)
        }
        return try extracted(VoxelBox(start: start, size: shape), mode: mode, value: value)
    }

    /// Centre crop to `shape` (every size must be ≤ the input's).
    public func centreCropped(to shape: [Int]) throws -> Volume {
        guard shape.count == 3, (0..<3).allSatisfy({ shape[$0] <= shape3[$0] }) else {
            throw TransformError.invalidParameter(name: "crop shape", value: "\(shape)", expected: "sizes no larger than \(shape3)")
        }
        return try paddedOrCropped(to: shape)
    }

    /// The bounding box of the foreground: voxels of the first frame above `threshold`, or, given a
    /// `mask` on the same grid, its non-zero voxels; grown by `margin` voxels per side and clipped to
    /// the volume. Nil when there is no foreground.
    public func foregroundBox(threshold: Float = 0, mask: Volume? = nil, margin: Int = 0) throws -> VoxelBox? {
        if let mask, mask.shape3 != shape3 {
            throw TransformError.gridMismatch(what: "foreground mask", expected: shape3, actual: mask.shape3)
        }
        let nx = shape3[0], ny = shape3[1], nz = shape3[2]
        var lo = [Int.max, Int.max, Int.max], hi = [-1, -1, -1]
        let data = mask?.voxels ?? voxels
        let thr: Float = mask == nil ? threshold : 0
        data.withUnsafeBufferPointer { p in
            for k in 0..<nz {
                for j in 0..<ny {
                    let row = p.baseAddress! + (k * ny + j) * nx
                    var first = -1, last = -1
                    for i in 0..<nx where row[i] > thr {
                        if first < 0 { first = i }
                        last = i
                    }
                    if first >= 0 {
                        lo[0] = min(lo[0], first); hi[0] = max(hi[0], last)
                        lo[1] = min(lo[1], j); hi[1] = max(hi[1], j)
                        lo[2] = min(lo[2], k); hi[2] = max(hi[2], k)
                    }
                }
            }
        }
        guard hi[0] >= 0 else { return nil }
        let start = (0..<3).map { max(0, lo[$0] - margin) }
        let end = (0..<3).map { min(shape3[$0] - 1, hi[$0] + margin) }
        return VoxelBox(start: start, size: (0..<3).map { end[$0] - start[$0] + 1 })
    }

    /// Cropped to the foreground box (see `foregroundBox`); returns the box for `restored(into:box:)`.
    /// With no foreground the volume is returned unchanged with the full box.
    public func croppedToForeground(threshold: Float = 0, mask: Volume? = nil, margin: Int = 0) throws -> (Volume, VoxelBox) {
        let box = try foregroundBox(threshold: threshold, mask: mask, margin: margin) ?? VoxelBox(start: [0, 0, 0], size: shape3)
        return (try extracted(box), box)
    }

    /// Puts a cropped volume (e.g. a mask predicted on the crop) back onto the original grid of
    /// size `dims`: voxels outside `box` get `value`. Inverse of `extracted(box)` for boxes inside the grid.
    public func restored(intoDims dims: [Int], box: VoxelBox, value: Float = 0) throws -> Volume {
        guard box.size == shape3 else {
            throw TransformError.gridMismatch(what: "cropped volume", expected: box.size, actual: shape3)
        }
        let back = VoxelBox(start: box.start.map { -$0 }, size: dims)
        return try extracted(back, mode: .constant, value: value)
    }
}
