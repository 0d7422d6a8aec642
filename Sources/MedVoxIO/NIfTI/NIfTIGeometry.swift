import MedVoxCore

/// NIfTI geometry as pure functions on headers and affines (rule 12 of STYLE.md).
///
/// Policy (nibabel `Nifti1Header.get_best_affine`): the sform when `sform_code` > 0, else the
/// qform when `qform_code` > 0, else nibabel's fallback: a voxel-size diagonal with x flipped
/// (LAS) and the origin at the centre of the grid. All results are RAS+ millimetres: spatial
/// units in metres or micrometres (xyzt_units) are converted to mm.
public enum NIfTIGeometry {
    /// Millimetres per spatial unit of the header (1 when unknown).
    public static func unitToMM(_ h: NIfTIHeader) -> Double { NIfTIUnits.spatialToMM[h.xyztUnits & 7] ?? 1 }

    /// qfac (pixdim[0]): −1 or 1; any other value counts as 1 (NIfTI-1, "qfac").
    public static func qfac(_ h: NIfTIHeader) -> Double { h.pixdim[0] == -1 ? -1 : 1 }

    /// The 3×3 rotation of a unit quaternion given by (b, c, d); a = √(1 − b² − c² − d²), clamped
    /// at 0 and normalised as nibabel's `quat2mat`. Row-major.
    public static func rotation(b: Double, c: Double, d: Double) -> [Double] {
        let a = max(0, 1 - (b * b + c * c + d * d)).squareRoot()
        let n = a * a + b * b + c * c + d * d
        guard n > 1e-12 else { return [1, 0, 0, 0, 1, 0, 0, 0, 1] }
        let s = 2 / n
        let (x, y, z, w) = (b, c, d, a)
        let (X, Y, Z) = (x * s, y * s, z * s)
        let (wX, wY, wZ) = (w * X, w * Y, w * Z)
        let (xX, xY, xZ) = (x * X, x * Y, x * Z)
        let (yY, yZ, zZ) = (y * Y, y * Z, z * Z)
        return [
            1 - (yY + zZ), xY - wZ, xZ + wY,
            xY + wZ, 1 - (xX + zZ), yZ - wX,
            xZ - wY, yZ + wX, 1 - (xX + yY),
        ]
    }

    /// The qform affine (NIfTI-1 "method 2"): R · diag(pixdim[1], pixdim[2], qfac·pixdim[3]) plus
    /// qoffset, in mm.
    public static func qform(_ h: NIfTIHeader) -> Affine {
        let r = rotation(b: h.quatern[0], c: h.quatern[1], d: h.quatern[2])
        let zooms = [abs(h.pixdim[1]), abs(h.pixdim[2]), abs(h.pixdim[3]) * qfac(h)]
        var a = Affine.identity
        for i in 0..<3 {
            for j in 0..<3 { a[i, j] = r[3 * i + j] * zooms[j] }
            a[i, 3] = h.qoffset[i]
        }
        return scaled(a, by: unitToMM(h))
    }

    /// The sform affine (NIfTI-1 "method 3"): the srow_x/y/z rows, in mm.
    public static func sform(_ h: NIfTIHeader) -> Affine {
        var a = Affine.identity
        for i in 0..<3 { for j in 0..<4 { a[i, j] = h.srow[i][j] } }
        return scaled(a, by: unitToMM(h))
    }

    /// nibabel's `get_base_affine`: diag(−dx, dy, dz) with the grid centre at the origin, in mm.
    public static func baseAffine(_ h: NIfTIHeader) -> Affine {
        let n = max(1, min(h.dim[0], 7))
        let shape = (1...3).map { $0 <= n ? Double(max(h.dim[$0], 1)) : 1 }
        let zooms = (1...3).map { $0 <= n ? abs(h.pixdim[$0]) : 1 }
        var a = Affine.identity
        let signs = [-1.0, 1, 1]
        for i in 0..<3 {
            a[i, i] = signs[i] * zooms[i]
            a[i, 3] = -(shape[i] - 1) / 2 * signs[i] * zooms[i]
        }
        return scaled(a, by: unitToMM(h))
    }

    /// Which transform `bestAffine` uses.
    public enum Source: String, Sendable { case sform, qform, base = "pixdim" }

    /// The voxel→RAS+ mm affine by the stated policy, and which source it came from.
    public static func bestAffine(_ h: NIfTIHeader) -> (affine: Affine, source: Source) {
        if h.sformCode > 0 { return (sform(h), .sform) }
        if h.qformCode > 0 { return (qform(h), .qform) }
        return (baseAffine(h), .base)
    }

    static func scaled(_ a: Affine, by f: Double) -> Affine {
        guard f != 1 else { return a }
        var out = a
        for i in 0..<3 { for j in 0..<4 { out[i, j] *= f } }
        return out
    }

    /// The quaternion representation of an affine's 3×3 block (nifti1_io `nifti_mat44_to_quatern`):
    /// column norms become the voxel sizes, the nearest rotation (polar decomposition, so shear is
    /// dropped) becomes (b, c, d), and a negative determinant becomes qfac = −1.
    public static func quaternion(of affine: Affine) -> (b: Double, c: Double, d: Double, qfac: Double, zooms: [Double])
    {
        var m = affine.linear
        var zooms = affine.columnNorms
        for j in 0..<3 {
            if zooms[j] == 0 || !zooms[j].isFinite {
                zooms[j] = 1
                for i in 0..<3 { m[3 * i + j] = i == j ? 1 : 0 }
            } else {
                for i in 0..<3 { m[3 * i + j] /= zooms[j] }
            }
        }
        var r = polar(m)
        var qfac = 1.0
        if det3(r) < 0 {
            qfac = -1
            for i in 0..<3 { r[3 * i + 2] = -r[3 * i + 2] }
        }
        let (r11, r12, r13, r21, r22, r23, r31, r32, r33) = (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])
        var a = r11 + r22 + r33 + 1
        var b: Double, c: Double, d: Double
        if a > 0.5 {
            a = 0.5 * a.squareRoot()
            b = 0.25 * (r32 - r23) / a
            c = 0.25 * (r13 - r31) / a
            d = 0.25 * (r21 - r12) / a
        } else {
            let xd = 1 + r11 - (r22 + r33), yd = 1 + r22 - (r11 + r33), zd = 1 + r33 - (r11 + r22)
            if xd > 1 {
                b = 0.5 * xd.squareRoot()
                c = 0.25 * (r12 + r21) / b
                d = 0.25 * (r13 + r31) / b
                a = 0.25 * (r32 - r23) / b
            } else if yd > 1 {
                c = 0.5 * yd.squareRoot()
                b = 0.25 * (r12 + r21) / c
                d = 0.25 * (r23 + r32) / c
                a = 0.25 * (r13 - r31) / c
            } else {
                d = 0.5 * zd.squareRoot()
                b = 0.25 * (r13 + r31) / d
                c = 0.25 * (r23 + r32) / d
                a = 0.25 * (r21 - r12) / d
            }
            if a < 0 { (b, c, d) = (-b, -c, -d) }
        }
        return (b, c, d, qfac, zooms)
    }

    static func det3(_ a: [Double]) -> Double {
        a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) + a[2] * (a[3] * a[7] - a[4] * a[6])
    }

    /// The orthogonal factor of a 3×3 matrix by Newton's iteration X ← (X + X⁻ᵀ)/2.
    static func polar(_ m: [Double]) -> [Double] {
        var x = m
        for _ in 0..<100 {
            let d = det3(x)
            guard abs(d) > 1e-12 else { return x }
            // Inverse transpose = cofactor matrix / det.
            let cof: [Double] = [
                x[4] * x[8] - x[5] * x[7], x[5] * x[6] - x[3] * x[8], x[3] * x[7] - x[4] * x[6],
                x[2] * x[7] - x[1] * x[8], x[0] * x[8] - x[2] * x[6], x[1] * x[6] - x[0] * x[7],
                x[1] * x[5] - x[2] * x[4], x[2] * x[3] - x[0] * x[5], x[0] * x[4] - x[1] * x[3],
            ]
            var next = x
            var change = 0.0
            for i in 0..<9 {
                next[i] = 0.5 * (x[i] + cof[i] / d)
                change = max(change, abs(next[i] - x[i]))
            }
            x = next
            if change < 1e-15 { break }
        }
        return x
    }
}
