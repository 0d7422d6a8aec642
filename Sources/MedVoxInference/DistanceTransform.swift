import MedVoxCore

/// Exact Euclidean distance transform on an anisotropic 3D grid (Felzenszwalb & Huttenlocher,
/// "Distance Transforms of Sampled Functions", 2012): one 1D lower-envelope pass per axis.
///
/// - Parameters:
///   - feature: `true` at feature voxels; layout i fastest (`i + nx*(j + ny*k)`).
///   - dims: [nx, ny, nz].
///   - spacing: voxel size in mm along i, j, k.
/// - Returns: squared distance in mm² from each voxel to the nearest feature voxel
///   (`.infinity` everywhere when there is no feature voxel).
public func squaredDistanceTransform(feature: [Bool], dims: [Int], spacing: [Double]) -> [Double] {
    let (nx, ny, nz) = (dims[0], dims[1], dims[2])
    precondition(feature.count == nx * ny * nz)
    var d = feature.map { $0 ? 0.0 : Double.infinity }
    let strides = [1, nx, nx * ny]
    let sizes = [nx, ny, nz]
    for axis in 0..<3 {
        let n = sizes[axis]
        let stride = strides[axis]
        let s = axis < spacing.count ? spacing[axis] : 1
        // All lines along `axis`: start offsets over the other two axes.
        let others = (0..<3).filter { $0 != axis }
        let lines = sizes[others[0]] * sizes[others[1]]
        let chunks = min(lines, 64)
        d.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            nonisolated(unsafe) let out = base
            parallelFor(chunks) { c in
                var f = [Double](repeating: 0, count: n)
                var r = [Double](repeating: 0, count: n)
                var v = [Int](repeating: 0, count: n)
                var z = [Double](repeating: 0, count: n + 1)
                for line in chunkRange(lines, part: c, of: chunks) {
                    let a = line % sizes[others[0]], b = line / sizes[others[0]]
                    let start = a * strides[others[0]] + b * strides[others[1]]
                    for p in 0..<n { f[p] = out[start + p * stride] }
                    lowerEnvelope1D(f, spacing: s, result: &r, v: &v, z: &z)
                    for p in 0..<n { out[start + p * stride] = r[p] }
                }
            }
        }
    }
    return d
}

/// 1D squared-distance transform of sampled function `f` on a grid of step `spacing`:
/// `result[p] = min_q ((p - q)·spacing)² + f[q]`; infinite samples are never parabola sites.
func lowerEnvelope1D(_ f: [Double], spacing: Double, result: inout [Double], v: inout [Int], z: inout [Double]) {
    let n = f.count
    var k = -1
    let s2 = spacing * spacing
    for q in 0..<n where f[q].isFinite {
        let fq = f[q] + s2 * Double(q * q)
        while k >= 0 {
            let vk = v[k]
            let intersection = (fq - (f[vk] + s2 * Double(vk * vk))) / (2 * s2 * Double(q - vk))
            if intersection <= z[k] {
                k -= 1
            } else {
                k += 1
                v[k] = q
                z[k] = intersection
                z[k + 1] = .infinity
                break
            }
        }
        if k < 0 {
            k = 0
            v[0] = q
            z[0] = -.infinity
            z[1] = .infinity
        }
    }
    if k < 0 {
        for p in 0..<n { result[p] = .infinity }
        return
    }
    var j = 0
    for p in 0..<n {
        while z[j + 1] < Double(p) { j += 1 }
        let dq = Double(p - v[j]) * spacing
        result[p] = dq * dq + f[v[j]]
    }
}
