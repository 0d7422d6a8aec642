/// Axis orientation of a voxel grid in world space.
///
/// `Orientation` gives, for each voxel axis (i, j, k), which world axis it runs along
/// (0 = x/R-L, 1 = y/A-P, 2 = z/S-I) and in which direction. The codes follow nibabel's
/// `aff2axcodes` with RAS+ labels: "RAS" means +i points Right, +j Anterior, +k Superior;
/// "LAS" is the usual radiological NIfTI layout.
public struct Orientation: Equatable, Sendable, CustomStringConvertible {
    /// For each voxel axis: the world axis it maps to (0, 1, 2).
    public var worldAxis: [Int]
    /// For each voxel axis: +1 when increasing the index moves towards R, A or S; −1 otherwise.
    public var sign: [Int]

    public init(worldAxis: [Int], sign: [Int]) {
        self.worldAxis = worldAxis
        self.sign = sign
    }

    static let positiveLabels: [Character] = ["R", "A", "S"]
    static let negativeLabels: [Character] = ["L", "P", "I"]

    /// Three letters, one per voxel axis, naming the direction each index increases towards.
    public var codes: String {
        String(zip(worldAxis, sign).map { $1 > 0 ? Self.positiveLabels[$0] : Self.negativeLabels[$0] })
    }

    public var description: String { codes }

    /// Parses codes such as "RAS", "LPS", "PIR" (case-insensitive). Nil when they do not name
    /// each world axis exactly once.
    public init?(codes: String) {
        let letters = Array(codes.uppercased())
        guard letters.count == 3 else { return nil }
        var axes: [Int] = []
        var signs: [Int] = []
        for l in letters {
            if let a = Self.positiveLabels.firstIndex(of: l) {
                axes.append(a)
                signs.append(1)
            } else if let a = Self.negativeLabels.firstIndex(of: l) {
                axes.append(a)
                signs.append(-1)
            } else {
                return nil
            }
        }
        guard Set(axes).count == 3 else { return nil }
        worldAxis = axes
        sign = signs
    }

    public static let ras = Orientation(worldAxis: [0, 1, 2], sign: [1, 1, 1])

    /// The orientation closest to the affine's 3×3 block, as nibabel's `io_orientation`:
    /// columns are normalised, the nearest orthogonal matrix is taken (polar decomposition,
    /// which discards shear), then each voxel axis is assigned greedily to the world axis with
    /// the largest remaining absolute component.
    public init(affine: Affine) {
        let a = affine.linear
        // Column-normalised copy.
        var rs = a
        for c in 0..<3 {
            let x: Double = rs[c], y: Double = rs[3 + c], z: Double = rs[6 + c]
            var n = (x * x + y * y + z * z).squareRoot()
            if n == 0 { n = 1 }
            for r in 0..<3 { rs[3 * r + c] /= n }
        }
        var r = Self.orthogonalFactor(rs)
        var axes = [Int](repeating: -1, count: 3)
        var signs = [Int](repeating: 1, count: 3)
        var used = Set<Int>()
        // Most decided axes first (nibabel ≥ 5: `argsort(min(-(R**2), axis=0), kind='stable')`),
        // so an oblique axis cannot take the world axis a clearer one needs.
        let peak = (0..<3).map { c in (0..<3).map { abs(r[3 * $0 + c]) }.max()! }
        let order = (0..<3).sorted { peak[$0] > peak[$1] || (peak[$0] == peak[$1] && $0 < $1) }
        for inAxis in order {
            let col = [r[inAxis], r[3 + inAxis], r[6 + inAxis]]
            guard col.contains(where: { abs($0) > 1e-8 }) else { continue }
            var best = 0
            for k in 1..<3 where abs(col[k]) > abs(col[best]) { best = k }
            axes[inAxis] = best
            signs[inAxis] = col[best] < 0 ? -1 : 1
            used.insert(best)
            for c in 0..<3 { r[3 * best + c] = 0 }
        }
        // A degenerate affine leaves axes unassigned: give them the remaining world axes in order.
        var free = [0, 1, 2].filter { !used.contains($0) }
        for i in 0..<3 where axes[i] < 0 {
            axes[i] = free.removeFirst()
        }
        worldAxis = axes
        sign = signs
    }

    /// The orthogonal factor of the polar decomposition of a 3×3 (row-major) matrix,
    /// R = A (AᵀA)^{-1/2}, via a Jacobi eigen-decomposition of AᵀA. Singular directions
    /// (eigenvalues below tolerance) are dropped, as nibabel does with its SVD.
    static func orthogonalFactor(_ a: [Double]) -> [Double] {
        let (values, vectors) = symmetricEigen3(product3x3(transposed3x3(a), a))  // AᵀA (symmetric)
        let maxV = values.max() ?? 0
        let tol = max(maxV, 0).squareRoot() * 3 * Double.ulpOfOne
        // invSqrt = V diag(1/sqrt(λ)) Vᵀ over kept eigenvalues
        var invSqrt = [Double](repeating: 0, count: 9)
        for e in 0..<3 {
            let s = max(values[e], 0).squareRoot()
            guard s > tol, s > 0 else { continue }
            for i in 0..<3 {
                for j in 0..<3 { invSqrt[3 * i + j] += vectors[3 * i + e] * vectors[3 * j + e] / s }
            }
        }
        return product3x3(a, invSqrt)
    }

    /// Jacobi eigen-decomposition of a symmetric 3×3 matrix (row-major). Returns eigenvalues and
    /// eigenvectors as the columns of a row-major matrix.
    static func symmetricEigen3(_ input: [Double]) -> ([Double], [Double]) {
        var a = input
        var v: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        for _ in 0..<50 {
            var off = 0.0
            for (p, q) in [(0, 1), (0, 2), (1, 2)] { off += a[3 * p + q] * a[3 * p + q] }
            if off < 1e-30 { break }
            for (p, q) in [(0, 1), (0, 2), (1, 2)] {
                let apq = a[3 * p + q]
                guard abs(apq) > 1e-300 else { continue }
                let theta = (a[3 * q + q] - a[3 * p + p]) / (2 * apq)
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot()
                let s = t * c
                for k in 0..<3 {
                    let akp = a[3 * k + p], akq = a[3 * k + q]
                    a[3 * k + p] = c * akp - s * akq
                    a[3 * k + q] = s * akp + c * akq
                }
                for k in 0..<3 {
                    let apk = a[3 * p + k], aqk = a[3 * q + k]
                    a[3 * p + k] = c * apk - s * aqk
                    a[3 * q + k] = s * apk + c * aqk
                }
                for k in 0..<3 {
                    let vkp = v[3 * k + p], vkq = v[3 * k + q]
                    v[3 * k + p] = c * vkp - s * vkq
                    v[3 * k + q] = s * vkp + c * vkq
                }
            }
        }
        return ([a[0], a[4], a[8]], v)
    }
}
