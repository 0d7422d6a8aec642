extension Volume {
    /// Mean over finite voxels, summed in Double in voxel order (nil when none is finite).
    public var mean: Double? {
        var s = 0.0
        var n = 0
        for x in voxels where x.isFinite {
            s += Double(x)
            n += 1
        }
        return n > 0 ? s / Double(n) : nil
    }
}
