import MedVoxCore

/// Errors from preprocessing and augmentation: bad parameters or inputs that cannot be transformed.
public enum TransformError: MedVoxError {
    /// A parameter is out of its domain (name, value, what was expected).
    case invalidParameter(name: String, value: String, expected: String)
    /// Two volumes that must share a grid (image and label map, image and mask) do not.
    case gridMismatch(what: String, expected: [Int], actual: [Int])
    /// The result would need more memory than `Runtime.maxMemory` allows.
    case tooLarge(what: String, bytes: Int, limit: Int)
    /// A volume has nothing to compute a statistic from (e.g. an empty mask).
    case empty(what: String)
    /// A pipeline or augmentation description could not be decoded.
    case badDescription(source: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidParameter(name, value, expected):
            return "invalid \(name) '\(value)': expected \(expected)"
        case let .gridMismatch(what, expected, actual):
            return "\(what): grid \(actual) does not match the image grid \(expected)"
        case let .tooLarge(what, bytes, limit):
            return "\(what): needs \(bytes) bytes, more than the limit of \(limit) bytes (--max-memory)"
        case let .empty(what):
            return "\(what): no voxels to compute from"
        case let .badDescription(source, reason):
            return "\(source): \(reason)"
        }
    }
}

/// A voxel grid in world space: its 3D size and its voxel → world (RAS+ mm) affine.
///
/// Every preprocessing step maps a volume onto a new grid; resampling a result back onto the
/// input's `Grid` inverts the step (see `Volume.resampled(onto:interpolation:)`).
public struct Grid: Equatable, Sendable, Codable {
    /// [nx, ny, nz].
    public var dims: [Int]
    /// Voxel (0-based) → world RAS+ mm.
    public var affine: Affine

    public init(dims: [Int], affine: Affine) {
        precondition(dims.count == 3 && dims.allSatisfy { $0 > 0 }, "Grid needs three positive sizes")
        self.dims = dims
        self.affine = affine
    }

    /// Voxel sizes in mm (the affine's column norms).
    public var spacing: [Double] { affine.columnNorms }
    public var count: Int { dims[0] * dims[1] * dims[2] }

    enum CodingKeys: String, CodingKey { case dims, affine }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let dims = try c.decode([Int].self, forKey: .dims)
        let rows = try c.decode([[Double]].self, forKey: .affine)
        guard dims.count == 3, dims.allSatisfy({ $0 > 0 }), rows.count == 4, rows.allSatisfy({ $0.count == 4 }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "grid needs 3 dims and a 4×4 affine"))
        }
        self.dims = dims
        self.affine = Affine(rows: rows)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(dims, forKey: .dims)
        try c.encode(affine.rows, forKey: .affine)
    }
}

extension Volume {
    /// The 3D grid this volume lives on.
    public var grid: Grid { Grid(dims: shape3, affine: affine) }

    /// A new volume on `grid` with `frames` frames of `voxels`, keeping this volume's stored type,
    /// scaling and time step. Spacing is set from the affine's column norms.
    func onGrid(_ grid: Grid, voxels: [Float], frames: Int) -> Volume {
        var d = grid.dims
        if frames > 1 { d.append(frames) }
        var v = Volume(
            dims: d, spacing: grid.spacing, affine: grid.affine, voxels: voxels, storedType: storedType,
            scaling: scaling)
        v.timeStep = timeStep
        return v
    }
}

/// Checks that `count` Float32 values fit under `Runtime.maxMemory`.
func checkAllocation(_ what: String, floats count: Int) throws {
    let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<Float>.size)
    if overflow || bytes > Runtime.maxMemory {
        throw TransformError.tooLarge(what: what, bytes: overflow ? Int.max : bytes, limit: Runtime.maxMemory)
    }
}

/// A 3×4 index → index map, stored row-major as Doubles: `src = M · [i, j, k, 1]`.
struct IndexMap {
    var m: [Double]  // 12 entries

    /// The map from output-grid indices to input-grid indices: inverse(input) · output.
    init?(from output: Affine, to input: Affine) {
        guard let inv = input.inverse else { return nil }
        let p = inv * output
        m = Array(p.m[0..<12])
    }

    init(_ m: [Double]) { self.m = m }

    /// True when no output axis mixes input axes (diagonal 3×3 block): separable resampling applies.
    var isDiagonal: Bool {
        for r in 0..<3 {
            for c in 0..<3 where r != c { if abs(m[4 * r + c]) > 1e-12 { return false } }
        }
        return true
    }
}
