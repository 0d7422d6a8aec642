import MedVoxCore

public enum FuzzVolume {
    /// 8×7×6 voxels with a smooth ramp (not constant, so normalisations have something to do).
    public static let tiny: Volume = {
        let dims = [8, 7, 6]
        let v = (0..<dims.reduce(1, *)).map { Float($0 % 37) * 3 + 1 }
        return Volume(dims: dims, spacing: [1.5, 1, 2], voxels: v)
    }()
}
