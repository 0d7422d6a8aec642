import Dispatch
import MedVoxCore
import MedVoxTransforms

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `medvox bench transforms` suite: times resampling and augmentation on a synthetic phantom
/// that `Tools/bench/transforms_peers.py` rebuilds bit for bit for scipy, SimpleITK and TorchIO.
public enum TransformBenchmark {
    public struct Row: Sendable {
        /// Case name, shared with the peers script (e.g. "resample_linear").
        public var name: String
        /// What was done, with sizes.
        public var detail: String
        /// Median wall-clock seconds over the repetitions.
        public var seconds: Double
        /// Median CPU seconds of the process (all threads) over the repetitions: steadier than
        /// wall time on a shared machine.
        public var cpuSeconds: Double
    }

    /// The phantom: a smooth head-like blob with texture, 1 mm voxels, values ~[0, 1000].
    /// v(i,j,k) = 1000·exp(−r²/2) + 50·sin(0.3 i)·cos(0.2 j) + (k mod 7), r = |(ijk − c)| / (0.3 n).
    public static func phantom(_ n: Int) -> Volume {
        var v = Volume(dims: [n, n, n])
        let c = Double(n - 1) / 2, s = 0.3 * Double(n)
        v.voxels.withUnsafeMutableBufferPointer { p in
            for k in 0..<n {
                for j in 0..<n {
                    for i in 0..<n {
                        let dx = (Double(i) - c) / s, dy = (Double(j) - c) / s, dz = (Double(k) - c) / s
                        let r2 = dx * dx + dy * dy + dz * dz
                        let val = 1000 * exp(-r2 / 2) + 50 * sin(0.3 * Double(i)) * cos(0.2 * Double(j)) + Double(k % 7)
                        p[i + n * (j + n * k)] = Float(val)
                    }
                }
            }
        }
        return v
    }

    /// CPU seconds used so far by the whole process.
    static func processCPU() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Median wall and CPU seconds of `repeats` runs of `body` (after one warm-up run).
    public static func time(repeats: Int, _ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
        try body()
        var t = [Double](), c = [Double]()
        for _ in 0..<max(repeats, 1) {
            let start = DispatchTime.now().uptimeNanoseconds, cpu0 = processCPU()
            try body()
            t.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            c.append(processCPU() - cpu0)
        }
        t.sort()
        c.sort()
        return (t[t.count / 2], c[c.count / 2])
    }

    /// Runs the cases. `size` is the resampling output edge (input 3/4 of it, 1 mm → 0.75 mm);
    /// augmentation runs on an edge of 5/8 of it (160 for the default 256). `only`, when given,
    /// names the cases to run.
    public static func run(size: Int = 256, repeats: Int = 3, only: Set<String>? = nil, report: (Row) -> Void) throws {
        let rIn = size * 3 / 4, aug = size * 5 / 8
        let src = phantom(rIn)
        for interp in [Interpolation.linear, .bspline] where only?.contains("resample_\(interp.rawValue)") ?? true {
            var out: Volume?
            let t = try time(repeats: repeats) { out = try src.resampled(toSpacing: [0.75], interpolation: interp) }
            report(Row(name: "resample_\(interp.rawValue)", detail: "\(rIn)³ 1 mm → 0.75 mm (\(out!.shape3.map(String.init).joined(separator: "×")))", seconds: t.wall, cpuSeconds: t.cpu))
        }
        let a = Sample(image: phantom(aug))
        var cases: [(String, AugmentSpec)] = []
        var elastic = AugmentSpec(.elastic)
        elastic.controlPoints = 7
        elastic.maxDisplacement = 7.5
        cases.append(("elastic", elastic))
        cases.append(("motion", AugmentSpec(.motion)))
        var affine = AugmentSpec(.affine)
        affine.degrees = [10]
        affine.translation = [5]
        cases.append(("affine", affine))
        for k: AugmentKind in [.biasField, .ghosting, .spike, .anisotropy] { cases.append((k.rawValue, AugmentSpec(k))) }
        var blur = AugmentSpec(.blur)
        blur.sigma = [1, 1]  // the peers script blurs with σ = 1 mm
        cases.append(("blur", blur))
        var noise = AugmentSpec(.noise)
        noise.std = [0.1, 0.1]
        cases.append(("noise", noise))
        for (name, spec) in cases where only?.contains(name) ?? true {
            let pipeline = AugmentPipeline(transforms: [spec])
            let t = try time(repeats: repeats) { _ = try pipeline.apply(to: a, seed: 1) }
            report(Row(name: name, detail: "\(aug)³", seconds: t.wall, cpuSeconds: t.cpu))
        }
    }
}
