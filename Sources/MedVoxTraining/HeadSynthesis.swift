import Foundation
import MedVoxCore
import MedVoxInference
import MedVoxTransforms

/// Whole-head label maps synthesised around a brain label map, for domain randomisation: a
/// template that holds brain labels only (0 background, 1…`brainLabelCount` brain tissues) gets
/// extra-cerebral CSF, skull (tables and diploe), muscle, fat and skin around it, eyes, a neck
/// below it and background clutter (blobs, a head-rest), each with a random thickness that varies
/// smoothly over the head. Layer boundaries are distances from the brain mask (exact Euclidean
/// distance transform) compared with smooth random thickness fields (sums of low-frequency
/// separable cosines in world millimetres), so every layer's thickness stays inside its range.
/// The extra tissues get labels above the brain's (`Tissue`); `brainTarget` maps them to background.
///
/// Deterministic: the same brain, settings and seed give the same head on any thread count.
///
/// ```swift
/// let synth = HeadSynthesis()
/// let head = try synth.headLabels(brainLabels, seed: 7)   // RAS, padded grid
/// let target = synth.brainTarget(head)                      // extra tissues → 0
/// ```
public struct HeadSynthesis: Sendable {
    /// Labels of the synthesised tissues (above the brain labels 1…3 of `Tools/data/prepare_mni.py`).
    public enum Tissue: Int, CaseIterable, Sendable {
        case extraCerebralCSF = 4, skull = 5, diploe = 6, muscle = 7, fat = 8, skin = 9, eye = 10, neck = 11, clutter = 12
    }

    /// Brain labels are 1…brainLabelCount; anything above is a synthesised tissue.
    public var brainLabelCount = 3
    /// Thickness ranges in mm of the layers, inside out.
    public var csfThickness: ClosedRange<Double> = 0.5...4
    public var skullThickness: ClosedRange<Double> = 3...9
    public var muscleThickness: ClosedRange<Double> = 1...5
    public var fatThickness: ClosedRange<Double> = 1...6
    public var skinThickness: ClosedRange<Double> = 1...3
    /// A skull at least this thick (mm) has diploe in its middle `diploeFraction`.
    public var diploeMinimumSkull = 4.0
    public var diploeFraction = 0.4
    /// Padding around the brain label map's grid, mm per side, and the extra below it for the neck.
    public var padding = 24.0
    public var neckLength = 60.0
    public var eyes = true
    public var eyeRadius: ClosedRange<Double> = 10...13
    public var neck = true
    /// Random ellipsoid blobs in the background (count range, radius range in mm).
    public var clutterBlobs: ClosedRange<Int> = 0...4
    public var clutterRadius: ClosedRange<Double> = 4...20
    public var headRestProbability = 0.5

    public init() {}

    /// The layers in order from the brain outwards, with their thickness ranges.
    public var layers: [(tissue: Tissue, thickness: ClosedRange<Double>)] {
        [(.extraCerebralCSF, csfThickness), (.skull, skullThickness), (.muscle, muscleThickness), (.fat, fatThickness), (.skin, skinThickness)]
    }

    /// The greatest distance (mm) from the brain any layer reaches.
    public var maximumLayerDistance: Double { layers.map(\.thickness.upperBound).reduce(0, +) }

    /// `v` reoriented to RAS and padded with zeros by `padding` mm per side (and `neckLength` more
    /// below), the grid `headLabels` works on. Apply it to an image on the label map's grid to
    /// have the image on the head's grid.
    public func paddedGrid(_ v: Volume) throws -> Volume {
        let ras = v.reoriented(to: .ras)
        let sp = ras.spacing
        let pad = (0..<3).map { Int((padding / sp[$0]).rounded(.up)) }
        let below = Int(((padding + neckLength) / sp[2]).rounded(.up))
        let start = [-pad[0], -pad[1], -below]
        let size = [ras.nx + 2 * pad[0], ras.ny + 2 * pad[1], ras.nz + below + pad[2]]
        return try ras.extracted(VoxelBox(start: start, size: size))
    }

    /// `head` with every synthesised tissue mapped to background (0): the segmentation target.
    public func brainTarget(_ head: Volume) -> Volume {
        let top = Float(brainLabelCount) + 0.5
        return head.withVoxels(head.voxels.map { $0 > top ? 0 : $0 }, storedType: .uint8)
    }

    /// A whole-head label map around the brain labels of `brain` (any orientation; at about 1–2 mm),
    /// on `paddedGrid(brain)`. Brain voxels keep their labels; every other voxel is background or a
    /// `Tissue`.
    public func headLabels(_ brain: Volume, seed: UInt64) throws -> Volume {
        try synthesise(onPadded: try paddedGrid(brain), seed: seed)
    }

    /// `headLabels` on a label map already on its padded grid (`paddedGrid`), for drawing many
    /// heads around one brain.
    public func synthesise(onPadded brain: Volume, seed: UInt64) throws -> Volume {
        var rng = SeededGenerator(seed: seed)
        let dims = brain.shape3, sp = brain.spacing
        let (nx, ny, nz) = (dims[0], dims[1], dims[2])
        let n = nx * ny * nz
        let top = Float(brainLabelCount) + 0.5
        let lab = brain.voxels
        let mask = (0..<n).map { lab[$0] > 0.5 && lab[$0] < top }
        guard let box = try brain.withVoxels(mask.map { $0 ? 1 : 0 }).foregroundBox(threshold: 0.5) else {
            throw TrainingError.badData(path: "brain label map", reason: "no brain voxel (labels 1...\(brainLabelCount))")
        }
        let dist = squaredDistanceTransform(feature: mask, dims: dims, spacing: sp).map { Float($0.squareRoot()) }
        // Brain extent in mm (voxel index × spacing).
        let lo = (0..<3).map { Double(box.start[$0]) * sp[$0] }, hi = (0..<3).map { Double(box.start[$0] + box.size[$0] - 1) * sp[$0] }
        let ext = (0..<3).map { hi[$0] - lo[$0] }
        let mid = (0..<3).map { (lo[$0] + hi[$0]) / 2 }

        let fields = layers.map { _ in SmoothField(rng: &rng, dims: dims, spacing: sp) }
        var out = [Float](repeating: 0, count: n)
        let reach = Float(maximumLayerDistance)
        let ranges = layers.map { (Float($0.thickness.lowerBound), Float($0.thickness.upperBound)) }
        let layerLabels = layers.map { Float($0.tissue.rawValue) }
        let minSkull = Float(diploeMinimumSkull), fraction = Float(diploeFraction)
        out.withUnsafeMutableBufferPointer { o in
            nonisolated(unsafe) let out = o.baseAddress!
            parallelFor(nz) { k in
                for j in 0..<ny {
                    for i in 0..<nx {
                        let p = i + nx * (j + ny * k)
                        if mask[p] { out[p] = lab[p]; continue }
                        let d = dist[p]
                        guard d <= reach else { continue }
                        var outer: Float = 0
                        for (l, f) in fields.enumerated() {
                            let inner = outer
                            let t = ranges[l].0 + (ranges[l].1 - ranges[l].0) * f.value(i, j, k)
                            outer += t
                            if d <= outer {
                                out[p] = layerLabels[l]
                                if layerLabels[l] == Float(Tissue.skull.rawValue) && t >= minSkull {
                                    let margin = t * (1 - fraction) / 2
                                    if d > inner + margin && d <= outer - margin { out[p] = Float(Tissue.diploe.rawValue) }
                                }
                                break
                            }
                        }
                    }
                }
            }
        }
        func world(_ p: Int) -> (Double, Double, Double) {
            let i = p % nx, j = (p / nx) % ny, k = p / (nx * ny)
            return (Double(i) * sp[0], Double(j) * sp[1], Double(k) * sp[2])
        }
        // Eyes: in front of the brain's lower third, either side of the midline.
        let eyeR = rng.uniform(eyeRadius.lowerBound, eyeRadius.upperBound)
        let eyeX = ext[0] * rng.uniform(0.19, 0.25)
        let eyeY = hi[1] - ext[1] * rng.uniform(0.08, 0.16)
        let eyeZ = lo[2] + ext[2] * rng.uniform(0.2, 0.28)
        // Neck: an elliptic cylinder under the brain (muscle inside a fat ring).
        let neckTop = lo[2] + ext[2] * rng.uniform(0.12, 0.25)
        let neckC = (mid[0], lo[1] + ext[1] * rng.uniform(0.38, 0.5))
        let neckR = (ext[0] * rng.uniform(0.28, 0.36), ext[1] * rng.uniform(0.24, 0.32))
        let ring = rng.uniform(0.08, 0.15)
        // Clutter: blobs away from the head, and a head-rest slab behind it.
        var blobs: [(c: [Double], r: [Double])] = []
        for _ in 0..<rng.int(in: clutterBlobs) {
            let c = (0..<3).map { rng.uniform(0, Double(dims[$0] - 1) * sp[$0]) }
            blobs.append((c, (0..<3).map { _ in rng.uniform(clutterRadius.lowerBound, clutterRadius.upperBound) }))
        }
        let rest = rng.bernoulli(headRestProbability)
        let restY = lo[1] - Double(reach) - rng.uniform(2, 10), restT = rng.uniform(5, 15)
        let restHalfWidth = ext[0] * rng.uniform(0.4, 0.6)
        let clearance = reach + 3
        for p in 0..<n where !mask[p] {
            let (x, y, z) = world(p)
            let ex = abs(x - mid[0]) - eyeX
            if eyes && (ex * ex + (y - eyeY) * (y - eyeY) + (z - eyeZ) * (z - eyeZ)).squareRoot() <= eyeR {
                out[p] = Float(Tissue.eye.rawValue)
                continue
            }
            guard out[p] == 0 else { continue }
            if neck && z < neckTop {
                let r = (((x - neckC.0) / neckR.0) * ((x - neckC.0) / neckR.0) + ((y - neckC.1) / neckR.1) * ((y - neckC.1) / neckR.1)).squareRoot()
                if r <= 1 - ring {
                    out[p] = Float(Tissue.neck.rawValue)
                    continue
                } else if r <= 1 {
                    out[p] = Float(Tissue.fat.rawValue)
                    continue
                }
            }
            guard dist[p] > clearance else { continue }
            if rest && y <= restY && y > restY - restT && abs(x - mid[0]) <= restHalfWidth {
                out[p] = Float(Tissue.clutter.rawValue)
                continue
            }
            for b in blobs {
                let qx = (x - b.c[0]) / b.r[0], qy = (y - b.c[1]) / b.r[1], qz = (z - b.c[2]) / b.r[2]
                if qx * qx + qy * qy + qz * qz <= 1 {
                    out[p] = Float(Tissue.clutter.rawValue)
                    break
                }
            }
        }
        var head = brain.withVoxels(out, storedType: .uint8)
        head.scaling = .identity
        return head
    }
}

/// A smooth random field in [0, 1]: 0.5 + 0.5 · Σₘ aₘ cos(x·ωₓₘ + φₓₘ) cos(y·ω_yₘ + φ_yₘ) cos(z·ω_zₘ + φ_zₘ) / Σₘ aₘ,
/// with wavelengths of 60–240 mm, evaluated from per-axis tables.
struct SmoothField: Sendable {
    var tables: [[[Float]]]
    var weights: [Float]

    init(rng: inout SeededGenerator, dims: [Int], spacing: [Double], components: Int = 4) {
        var t: [[[Float]]] = [], w: [Float] = []
        for _ in 0..<components {
            w.append(Float(rng.uniform(0.2, 1)))
            t.append((0..<3).map { a in
                let omega = 2 * Double.pi / rng.uniform(60, 240), phase = rng.uniform(0, 2 * Double.pi)
                return (0..<dims[a]).map { Float(Foundation.cos(Double($0) * spacing[a] * omega + phase)) }
            })
        }
        let total = w.reduce(0, +)
        tables = t
        weights = w.map { $0 / total }
    }

    @inline(__always) func value(_ i: Int, _ j: Int, _ k: Int) -> Float {
        var s: Float = 0
        for m in 0..<weights.count { s += weights[m] * tables[m][0][i] * tables[m][1][j] * tables[m][2][k] }
        return min(1, max(0, 0.5 + 0.5 * s))
    }
}
