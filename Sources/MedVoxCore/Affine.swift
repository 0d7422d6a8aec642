/// A 4×4 homogeneous transform in row-major order, used for voxel→world maps.
///
/// Convention: `affine * [i, j, k, 1]ᵀ = [x, y, z, 1]ᵀ` with voxel indices `(i, j, k)` (0-based,
/// `i` fastest in memory) and world coordinates in RAS+ millimetres (NIfTI's convention:
/// +x Right, +y Anterior, +z Superior). DICOM's LPS is converted on read.
public struct Affine: Equatable, Sendable, CustomStringConvertible {
    /// Row-major elements: `m[4 * row + column]`.
    public var m: [Double]

    public init(rows: [[Double]]) {
        precondition(rows.count == 4 && rows.allSatisfy { $0.count == 4 }, "Affine needs 4×4 rows")
        m = rows.flatMap { $0 }
    }

    public init(elements: [Double]) {
        precondition(elements.count == 16, "Affine needs 16 elements")
        m = elements
    }

    public static let identity = Affine(elements: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])

    /// A diagonal affine: voxel spacing in mm on the axes, origin at `origin`.
    public static func scaling(_ spacing: [Double], origin: [Double] = [0, 0, 0]) -> Affine {
        var a = Affine.identity
        for i in 0..<3 {
            a[i, i] = i < spacing.count ? spacing[i] : 1
            a[i, 3] = i < origin.count ? origin[i] : 0
        }
        return a
    }

    public subscript(row: Int, column: Int) -> Double {
        get { m[4 * row + column] }
        set { m[4 * row + column] = newValue }
    }

    /// Rows as nested arrays (what `info --json` prints).
    public var rows: [[Double]] { (0..<4).map { r in Array(m[(4 * r)..<(4 * r + 4)]) } }

    public static func * (a: Affine, b: Affine) -> Affine {
        var out = [Double](repeating: 0, count: 16)
        for r in 0..<4 {
            for c in 0..<4 {
                var s = 0.0
                for k in 0..<4 { s += a.m[4 * r + k] * b.m[4 * k + c] }
                out[4 * r + c] = s
            }
        }
        return Affine(elements: out)
    }

    /// Maps a point (voxel indices → world mm for a voxel→world affine).
    public func apply(_ p: (Double, Double, Double)) -> (Double, Double, Double) {
        (
            m[0] * p.0 + m[1] * p.1 + m[2] * p.2 + m[3],
            m[4] * p.0 + m[5] * p.1 + m[6] * p.2 + m[7],
            m[8] * p.0 + m[9] * p.1 + m[10] * p.2 + m[11]
        )
    }

    public func apply(_ p: [Double]) -> [Double] {
        let r = apply((p[0], p[1], p[2]))
        return [r.0, r.1, r.2]
    }

    /// The upper-left 3×3 block, row-major.
    public var linear: [Double] { [m[0], m[1], m[2], m[4], m[5], m[6], m[8], m[9], m[10]] }

    /// Translation column (world position of voxel (0,0,0)).
    public var translation: [Double] { [m[3], m[7], m[11]] }

    /// Voxel sizes implied by the affine: the norms of the first three columns (mm).
    public var columnNorms: [Double] {
        (0..<3).map { (c: Int) -> Double in
            let x: Double = m[c], y: Double = m[4 + c], z: Double = m[8 + c]
            return (x * x + y * y + z * z).squareRoot()
        }
    }

    public var determinant3x3: Double {
        let a = linear
        return a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6])
            + a[2] * (a[3] * a[7] - a[4] * a[6])
    }

    /// The inverse of an affine whose last row is (0,0,0,1); nil when the 3×3 block is singular.
    public var inverse: Affine? {
        let a = linear
        let det = determinant3x3
        guard det.isFinite, abs(det) > 1e-300 else { return nil }
        let inv: [Double] = [
            (a[4] * a[8] - a[5] * a[7]) / det, (a[2] * a[7] - a[1] * a[8]) / det, (a[1] * a[5] - a[2] * a[4]) / det,
            (a[5] * a[6] - a[3] * a[8]) / det, (a[0] * a[8] - a[2] * a[6]) / det, (a[2] * a[3] - a[0] * a[5]) / det,
            (a[3] * a[7] - a[4] * a[6]) / det, (a[1] * a[6] - a[0] * a[7]) / det, (a[0] * a[4] - a[1] * a[3]) / det,
        ]
        let t = translation
        var out = Affine.identity
        for r in 0..<3 {
            for c in 0..<3 { out[r, c] = inv[3 * r + c] }
            out[r, 3] = -(inv[3 * r] * t[0] + inv[3 * r + 1] * t[1] + inv[3 * r + 2] * t[2])
        }
        return out
    }

    /// True when every element differs by at most `tolerance`.
    public func isClose(to other: Affine, tolerance: Double = 1e-6) -> Bool {
        zip(m, other.m).allSatisfy { abs($0 - $1) <= tolerance }
    }

    public var isFinite: Bool { m.allSatisfy { $0.isFinite } }

    public var description: String {
        rows.map { "[" + $0.map { String(format: "%.6g", $0) }.joined(separator: ", ") + "]" }
            .joined(separator: "\n")
    }
}

import Foundation

/// The product of two row-major 3×3 matrices.
public func product3x3(_ a: [Double], _ b: [Double]) -> [Double] {
    var out = [Double](repeating: 0, count: 9)
    for i in 0..<3 {
        for j in 0..<3 {
            var s = 0.0
            for k in 0..<3 { s += a[3 * i + k] * b[3 * k + j] }
            out[3 * i + j] = s
        }
    }
    return out
}

/// The transpose of a row-major 3×3 matrix.
public func transposed3x3(_ a: [Double]) -> [Double] { (0..<9).map { a[3 * ($0 % 3) + $0 / 3] } }
