import MedVoxCore
import MedVoxTensor

/// Tiling of a volume into overlapping patches for sliding-window inference (nnU-Net's scheme:
/// the fewest evenly spaced windows whose step is at most `(1 − overlap)` of the patch).
public enum SlidingWindow {
    /// Start offsets of the windows along one axis of `size` voxels for windows of `patch`
    /// voxels. A patch larger than the axis gives one window at 0 (the caller pads).
    public static func starts(size: Int, patch: Int, overlap: Double) -> [Int] {
        precondition(patch > 0 && overlap >= 0 && overlap < 1)
        guard size > patch else { return [0] }
        let target = Double(patch) * (1 - overlap)
        let steps = Int((Double(size - patch) / target).rounded(.up)) + 1
        let actual = Double(size - patch) / Double(steps - 1)
        return (0..<steps).map { Int((Double($0) * actual).rounded()) }
    }

    /// The window of size `w` (i, j, k) at `origin` of an image of `channels` frames of `dims`
    /// (i fastest), as a tensor `[1, channels, w_k, w_j, w_i]`; zeros where it runs past the
    /// image (padding).
    public static func gather(_ image: [Float], dims: [Int], channels: Int, window w: [Int], origin: [Int]) -> Tensor {
        let (px, py, pz) = (dims[0], dims[1], dims[2])
        let (x0, y0, z0) = (origin[0], origin[1], origin[2])
        let tileVoxels = w[0] * w[1] * w[2]
        var input = [Float](repeating: 0, count: channels * tileVoxels)
        for c in 0..<channels {
            for dz in 0..<w[2] where z0 + dz < pz {
                for dy in 0..<w[1] where y0 + dy < py {
                    let src = c * px * py * pz + (z0 + dz) * px * py + (y0 + dy) * px + x0
                    let dst = c * tileVoxels + (dz * w[1] + dy) * w[0]
                    let run = min(w[0], px - x0)
                    if run > 0 { for dx in 0..<run { input[dst + dx] = image[src + dx] } }
                }
            }
        }
        return Tensor(shape: [1, channels, w[2], w[1], w[0]], storage: input)
    }

    /// Gaussian importance weights over a patch (i fastest), σ = `sigmaScale` × patch size per
    /// axis, centred, scaled to a maximum of 1, with zeros raised to the smallest positive
    /// value so every voxel keeps some weight (as nnU-Net does).
    public static func gaussianWeights(patch: [Int], sigmaScale: Double = 1.0 / 8) -> [Float] {
        let axes = (0..<3).map { a -> [Double] in
            let n = patch[a]
            let sigma = Double(n) * sigmaScale
            let centre = Double(n - 1) / 2
            return (0..<n).map { i in
                let d = (Double(i) - centre) / sigma
                return _exp(-0.5 * d * d)
            }
        }
        var w = [Float](repeating: 0, count: patch[0] * patch[1] * patch[2])
        var o = 0
        for k in 0..<patch[2] {
            for j in 0..<patch[1] {
                for i in 0..<patch[0] {
                    w[o] = Float(axes[0][i] * axes[1][j] * axes[2][k])
                    o += 1
                }
            }
        }
        let maxW = w.max() ?? 1
        for i in w.indices { w[i] /= maxW }
        let minPositive = w.filter { $0 > 0 }.min() ?? 1
        for i in w.indices where w[i] == 0 { w[i] = minPositive }
        return w
    }
}

#if canImport(Glibc)
    import Glibc
    @inline(__always) func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#elseif canImport(Darwin)
    import Darwin
    @inline(__always) func _exp(_ x: Double) -> Double { Darwin.exp(x) }
#endif
