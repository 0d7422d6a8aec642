import MedVoxCore
import MedVoxTensor

/// The Gaussian-weighted sums of window logits over a slab of planes of the padded grid, and the
/// sums of the weights, for sliding-window inference.
///
/// Windows add their logits (`add`); planes no later window touches are finalised — the weighted
/// mean's argmax, and its softmax when probabilities are asked for — (`finalise`), and the slab
/// then slides on (`slide`), so only `depth` planes of accumulators exist at a time. With `depth`
/// the whole padded grid it holds every plane (the full-logits reference path).
struct LogitAccumulator {
    let classes: Int
    /// The preprocessed grid (i, j, k) and the grid padded to at least one window per axis.
    let dims: [Int], padded: [Int]
    /// Planes held.
    let depth: Int
    /// Logits, class-major: `classes` blocks of `depth` planes of the padded grid's (i, j) plane.
    var logits: [Float]
    /// The summed window weights, `depth` planes.
    var weights: [Float]
    /// The first plane (absolute k) held.
    private(set) var base = 0

    init(classes: Int, dims: [Int], padded: [Int], depth: Int) {
        self.classes = classes
        self.dims = dims
        self.padded = padded
        self.depth = depth
        logits = [Float](repeating: 0, count: classes * padded[0] * padded[1] * depth)
        weights = [Float](repeating: 0, count: padded[0] * padded[1] * depth)
    }

    var planeSize: Int { padded[0] * padded[1] }
    /// Bytes held by the accumulators.
    var bytes: Int { (logits.count + weights.count) * 4 }

    /// Adds the logits `[1, classes, w_k, w_j, w_i]` of the window of size `w` at `origin` (i, j,
    /// k; k within the slab), each voxel weighted by `gauss` (i fastest over the window).
    mutating func add(_ window: Tensor, gauss: [Float], size w: [Int], origin: [Int]) {
        let (x0, y0, zl0) = (origin[0], origin[1], origin[2] - base)
        let (qx, planeQ, depth) = (padded[0], planeSize, depth)
        let tileVoxels = w[0] * w[1] * w[2]
        window.storage.withUnsafeBufferPointer { lg in
            logits.withUnsafeMutableBufferPointer { a in
                nonisolated(unsafe) let lg = lg, a = a
                parallelFor(classes * w[2]) { job in
                    let c = job / w[2], dz = job % w[2]
                    for dy in 0..<w[1] {
                        let g = (dz * w[1] + dy) * w[0]
                        let src = c * tileVoxels + g
                        let dst = c * planeQ * depth + (zl0 + dz) * planeQ + (y0 + dy) * qx + x0
                        for dx in 0..<w[0] { a[dst + dx] += gauss[g + dx] * lg[src + dx] }
                    }
                }
            }
        }
        for dz in 0..<w[2] {
            for dy in 0..<w[1] {
                let g = (dz * w[1] + dy) * w[0]
                let dst = (zl0 + dz) * planeQ + (y0 + dy) * qx + x0
                for dx in 0..<w[0] { weights[dst + dx] += gauss[g + dx] }
            }
        }
    }

    /// Finalises the planes `from..<to` (absolute k; those past the image are skipped): per voxel
    /// the class of the largest weighted-mean logit into `labels` (i fastest over `dims`), and,
    /// when `probabilities` is given, the softmax of those logits there (class-major blocks of
    /// the grid).
    func finalise(_ from: Int, _ to: Int, labels: inout [UInt8], probabilities: UnsafeMutablePointer<Float>?) {
        let (px, py, pz) = (dims[0], dims[1], dims[2])
        let hi = min(to, pz)
        guard from < hi else { return }
        let (k, qx, planeQ, planeP, depth, base) = (classes, padded[0], planeSize, px * py, depth, base)
        logits.withUnsafeBufferPointer { a in
            weights.withUnsafeBufferPointer { ws in
                labels.withUnsafeMutableBufferPointer { lab in
                    nonisolated(unsafe) let a = a, ws = ws, lab = lab, pp = probabilities
                    parallelFor(hi - from) { dz in
                        let z = from + dz
                        let zl = z - base
                        var logit = [Float](repeating: 0, count: k)
                        for y in 0..<py {
                            for x in 0..<px {
                                let o = zl * planeQ + y * qx + x
                                let inv = 1 / ws[o]
                                var best = 0
                                for c in 0..<k {
                                    logit[c] = a[c * planeQ * depth + o] * inv
                                    if logit[c] > logit[best] { best = c }
                                }
                                let out = z * planeP + y * px + x
                                lab[out] = UInt8(best)
                                if let pp { for c in 0..<k { pp[c * planeP * pz + out] = logit[c] } }
                            }
                        }
                        if let pp {
                            softmaxChannels(pp, channels: k, stride: planeP * pz, positions: (z * planeP)..<((z + 1) * planeP))
                        }
                    }
                }
            }
        }
    }

    /// Slides the slab to start at plane `k0` (> `base`; the planes before it finalised): held
    /// planes move down, the new ones start at zero.
    mutating func slide(to k0: Int) {
        let shift = k0 - base
        for c in 0..<classes { Self.shiftPlanes(&logits, block: c * planeSize * depth, planeSize: planeSize, depth: depth, by: shift) }
        Self.shiftPlanes(&weights, block: 0, planeSize: planeSize, depth: depth, by: shift)
        base = k0
    }

    /// Moves the `depth` planes of `a` starting at `block` down by `shift` planes, zeros after.
    static func shiftPlanes(_ a: inout [Float], block: Int, planeSize: Int, depth: Int, by shift: Int) {
        for zl in 0..<depth {
            let dst = block + zl * planeSize
            if zl + shift < depth {
                let src = block + (zl + shift) * planeSize
                for o in 0..<planeSize { a[dst + o] = a[src + o] }
            } else {
                for o in 0..<planeSize { a[dst + o] = 0 }
            }
        }
    }
}
