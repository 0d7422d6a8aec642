import MedVoxCore

/// Connected-component labelling of a binary mask on a 3D grid (i fastest).
///
/// - Parameter connectivity: 6 (faces) or 26 (faces, edges, corners).
/// - Returns: a component number per voxel (0 outside the mask, 1... inside) and each
///   component's size in voxels (`sizes[0]` unused).
public func connectedComponents(_ mask: [Bool], dims: [Int], connectivity: Int = 26) -> (labels: [Int32], sizes: [Int]) {
    precondition(connectivity == 6 || connectivity == 26)
    let (nx, ny, nz) = (dims[0], dims[1], dims[2])
    var labels = [Int32](repeating: 0, count: mask.count)
    var sizes = [0]
    var offsets: [(Int, Int, Int)] = []
    for dk in -1...1 {
        for dj in -1...1 {
            for di in -1...1 where (di, dj, dk) != (0, 0, 0) {
                if connectivity == 6 && abs(di) + abs(dj) + abs(dk) != 1 { continue }
                offsets.append((di, dj, dk))
            }
        }
    }
    var stack: [Int] = []
    for start in 0..<mask.count where mask[start] && labels[start] == 0 {
        let id = Int32(sizes.count)
        var size = 0
        labels[start] = id
        stack.append(start)
        while let o = stack.popLast() {
            size += 1
            let i = o % nx, j = (o / nx) % ny, k = o / (nx * ny)
            for (di, dj, dk) in offsets {
                let a = i + di, b = j + dj, c = k + dk
                guard a >= 0, b >= 0, c >= 0, a < nx, b < ny, c < nz else { continue }
                let n = a + nx * (b + ny * c)
                if mask[n] && labels[n] == 0 {
                    labels[n] = id
                    stack.append(n)
                }
            }
        }
        sizes.append(size)
    }
    return (labels, sizes)
}

/// Keeps, for each label > 0, only its largest 26-connected component; other voxels of that label
/// become background (0).
public func keepLargestComponentPerLabel(_ labelMap: [Float], dims: [Int]) -> [Float] {
    var out = labelMap
    for label in Set(labelMap).filter({ $0 > 0 }).sorted() {
        let (components, sizes) = connectedComponents(labelMap.map { $0 == label }, dims: dims)
        guard sizes.count > 2 else { continue }
        let largest = Int32(sizes.indices.dropFirst().max { sizes[$0] < sizes[$1] }!)
        for i in 0..<out.count where components[i] != 0 && components[i] != largest { out[i] = 0 }
    }
    return out
}

/// Fills holes of each label > 0: background voxels enclosed by the label (6-connected background
/// components that do not touch the volume border) are given that label.
public func fillHolesPerLabel(_ labelMap: [Float], dims: [Int]) -> [Float] {
    let (nx, ny, nz) = (dims[0], dims[1], dims[2])
    var out = labelMap
    for label in Set(labelMap).filter({ $0 > 0 }).sorted() {
        let outside = out.map { $0 != label }
        let (components, sizes) = connectedComponents(outside, dims: dims, connectivity: 6)
        var touchesBorder = [Bool](repeating: false, count: sizes.count)
        for k in 0..<nz {
            for j in 0..<ny {
                for i in 0..<nx where i == 0 || j == 0 || k == 0 || i == nx - 1 || j == ny - 1 || k == nz - 1 {
                    touchesBorder[Int(components[i + nx * (j + ny * k)])] = true
                }
            }
        }
        for i in 0..<out.count where components[i] != 0 && !touchesBorder[Int(components[i])] && out[i] == 0 {
            out[i] = label
        }
    }
    return out
}

/// Applies a card's post-processing to a label map on a 3D grid (i fastest).
public func postprocessLabelMap(_ labelMap: [Float], dims: [Int], spec: ModelCard.PostprocessSpec) -> [Float] {
    var out = labelMap
    if spec.largestForeground == true {
        let (components, sizes) = connectedComponents(out.map { $0 > 0 }, dims: dims)
        if sizes.count > 2 {
            let largest = Int32(sizes.indices.dropFirst().max { sizes[$0] < sizes[$1] }!)
            for i in 0..<out.count where components[i] != 0 && components[i] != largest { out[i] = 0 }
        }
    }
    for label in spec.largestComponent ?? [] {
        let l = Float(label)
        let (components, sizes) = connectedComponents(out.map { $0 == l }, dims: dims)
        guard sizes.count > 2 else { continue }
        let largest = Int32(sizes.indices.dropFirst().max { sizes[$0] < sizes[$1] }!)
        for i in 0..<out.count where components[i] != 0 && components[i] != largest { out[i] = 0 }
    }
    if let fill = spec.fillHoles, !fill.isEmpty {
        // fillHolesPerLabel treats every label; keep only the fills of the chosen labels.
        let filled = fillHolesPerLabel(out, dims: dims)
        let chosen = Set(fill.map(Float.init))
        for i in 0..<out.count where out[i] == 0 && chosen.contains(filled[i]) { out[i] = filled[i] }
    }
    return out
}
