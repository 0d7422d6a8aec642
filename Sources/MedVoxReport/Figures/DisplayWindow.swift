/// Intensity window: values at or below `low` are black, at or above `high` white.
public struct DisplayWindow: Equatable, Sendable {
    public var low: Float
    public var high: Float
    public init(low: Float, high: Float) {
        self.low = low
        self.high = high
    }
    /// From a centre and width (as radiology viewers state them, e.g. 40,400 for CT soft tissue).
    public init(center: Float, width: Float) {
        low = center - width / 2
        high = center + width / 2
    }

    /// The 0.5th–99.5th percentile of the finite voxels (at most 2²⁰ evenly strided samples are
    /// used, so the result is deterministic and cheap).
    public static func automatic(_ voxels: [Float], lower: Double = 0.5, upper: Double = 99.5) -> DisplayWindow {
        let step = max(1, voxels.count / (1 << 20))
        var sample: [Float] = []
        sample.reserveCapacity(voxels.count / step + 1)
        var i = 0
        while i < voxels.count {
            if voxels[i].isFinite { sample.append(voxels[i]) }
            i += step
        }
        guard !sample.isEmpty else { return DisplayWindow(low: 0, high: 1) }
        sample.sort()
        func pct(_ p: Double) -> Float {
            let pos = p / 100 * Double(sample.count - 1)
            let lo = Int(pos.rounded(.down)), hi = min(lo + 1, sample.count - 1)
            let f = Float(pos - Double(lo))
            return sample[lo] * (1 - f) + sample[hi] * f
        }
        var w = DisplayWindow(low: pct(lower), high: pct(upper))
        if w.high <= w.low { w = DisplayWindow(low: sample.first!, high: max(sample.last!, sample.first! + 1)) }
        return w
    }

    /// Grey level 0–255.
    @inline(__always) public func grey(_ v: Float) -> UInt8 {
        guard v.isFinite else { return 0 }
        let t = (v - low) / (high - low)
        return UInt8(max(0, min(255, (t * 255).rounded())))
    }
}
