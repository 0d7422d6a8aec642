import MedVoxTensor

// Mirroring test-time augmentation (nnU-Net's "mirroring"): the network's output averaged over
// every combination of flips of the spatial axes, each output flipped back.

/// The mean of `net(flipped(x, axes: a))` flipped back by `a`, over every subset `a` of `axes`
/// (tensor axes of NCDHW: 2 = D, 3 = H, 4 = W), the unflipped pass first.
public func mirroredMean(_ x: Tensor, axes: [Int], _ net: (Tensor) -> Tensor) -> Tensor {
    var sum: Tensor?
    let combos = 1 << axes.count
    for mask in 0..<combos {
        let flipAxes = axes.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
        let y = flipped(net(flipped(x, axes: flipAxes)), axes: flipAxes)
        if var acc = sum {
            acc.storage.withUnsafeMutableBufferPointer { a in
                y.storage.withUnsafeBufferPointer { b in for i in 0..<a.count { a[i] += b[i] } }
            }
            sum = acc
        } else {
            sum = y
        }
    }
    var out = sum!
    let scale = 1 / Float(combos)
    out.storage.withUnsafeMutableBufferPointer { a in for i in 0..<a.count { a[i] *= scale } }
    return out
}

/// `x` (NCDHW) mirrored along the given tensor axes (2 = D, 3 = H, 4 = W).
public func flipped(_ x: Tensor, axes: [Int]) -> Tensor {
    guard !axes.isEmpty else { return x }
    let s = x.shape
    precondition(s.count == 5)
    let (d, h, w) = (s[2], s[3], s[4])
    let fd = axes.contains(2), fh = axes.contains(3), fw = axes.contains(4)
    var out = [Float](repeating: 0, count: x.count)
    x.storage.withUnsafeBufferPointer { src in
        for nc in 0..<(s[0] * s[1]) {
            for z in 0..<d {
                let zs = fd ? d - 1 - z : z
                for y in 0..<h {
                    let ys = fh ? h - 1 - y : y
                    let so = ((nc * d + zs) * h + ys) * w
                    let doff = ((nc * d + z) * h + y) * w
                    if fw {
                        for i in 0..<w { out[doff + i] = src[so + w - 1 - i] }
                    } else {
                        for i in 0..<w { out[doff + i] = src[so + i] }
                    }
                }
            }
        }
    }
    return Tensor(shape: s, storage: out)
}
