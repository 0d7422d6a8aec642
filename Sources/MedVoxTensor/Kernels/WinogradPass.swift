import CMedVoxKernels
import MedVoxCore

/// The Winograd pass: F(2³, 3³) over 2×2×2 output tiles for 3×3×3 convolutions (F(2², 3²) over
/// 2×2 tiles in 2D), stride 1, padding 1, reading each channel of the source where it lives (no
/// padded copy, no concatenation), optionally normalising it as it reads and summing the output
/// as it writes. It declines other kernels, strides, dilations and paddings, and layers with too
/// few channels for its products to outweigh its transforms.
extension FastPass {
    /// Whether Winograd serves a pass with this geometry: F(2³, 3³) for 3×3×3, padding 1 on a 3D
    /// grid, F(2², 3²) for 3×3, padding 1 in 2D (kernel 1×3×3, padding 0 on the 3D view's depth
    /// of 1); stride 1, dilation 1, and enough channels for its products (or forced by
    /// `KernelSettings.winograd`).
    static func winogradFits(kernel: [Int], stride: [Int], dilation: [Int], padding: [Int], depth: Int, C: Int, M: Int,
                             info: mvx_isa_info, settings: KernelSettings) -> Bool {
        let threeD = kernel == [3, 3, 3] && padding == [1, 1, 1] && depth > 1
        let twoD = kernel == [1, 3, 3] && padding == [0, 1, 1] && depth == 1
        guard threeD || twoD, stride == [1, 1, 1], dilation == [1, 1, 1], M * 4 > Int(info.mr) else { return false }
        if let forced = settings.winograd { return forced }
        return C >= 16 && M >= 16
    }

    /// The micro-kernel of a Winograd pass over the `grid` output: 12 channels × 32 tiles (AVX-512)
    /// when there are at most 64 tiles (an 8³ grid fills 64 lanes rather than 96 of 48-wide
    /// blocks), else the usual one.
    static func winogradInfo(_ info: mvx_isa_info, grid: [Int]) -> mvx_isa_info {
        guard info.mr > 1, mvx_wino_tiles(Int32(grid[0]), Int32(grid[1]), Int32(grid[2])) <= 64 else { return info }
        return mvx_isa_info_short(info.isa)
    }

    /// The forward pass as Winograd, or nil (declined).
    static func winogradForward(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass? {
        winograd(s, C: s.ci, M: s.co, src: s.input, out: s.output, mul: s.stride, tmul: s.dilation, off: s.padding.map { -$0 },
                 info: info, settings: settings)
    }

    /// Backward-data as Winograd over the output gradient (padding d(k-1)-p = 1: the same
    /// geometry), or nil (declined).
    static func winogradBackwardData(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass? {
        winograd(s, C: s.co, M: s.ci, src: s.output, out: s.input, mul: [1, 1, 1], tmul: [1, 1, 1], off: [-1, -1, -1],
                 info: info, settings: settings)
    }

    /// A Winograd pass of `s`'s kernel from C channels on the `src` grid to M channels on the same
    /// `out` grid, or nil (declined).
    static func winograd(_ s: Conv3DShape, C: Int, M: Int, src: [Int], out: [Int], mul: [Int], tmul: [Int], off: [Int],
                         info: mvx_isa_info, settings: KernelSettings) -> FastPass? {
        guard winogradFits(kernel: s.kernel, stride: s.stride, dilation: s.dilation, padding: s.padding, depth: src[0], C: C, M: M,
                           info: info, settings: settings)
        else { return nil }
        return FastPass(
            mode: .winograd, info: winogradInfo(info, grid: out), settings: settings, M: M, C: C, taps: s.taps, kcc: C, src: src,
            pad: s.padding, out: out, kernel: s.kernel, dilation: s.dilation, mul: mul, tmul: tmul, off: off, div: [1, 1, 1])
    }

    /// Runs the Winograd blocks (`mvx_wino_block`) over the source `channels`: each thread takes
    /// whole blocks of tiles, or, with fewer blocks than threads, the threads share each block.
    /// `outputStatistics`: the blocks' per-channel output sums, added in block order at the end.
    func runWinograd(_ desc: mvx_fwd, channels: [UnsafePointer<Float>?], inputTransform: PendingNormalization.Channels?,
                     outputStatistics: UnsafeMutablePointer<Double>?, threads T: Int) {
        let (mpad, total, nt, tiles, _, _, _, perThread) = layout(threads: T)
        var blockStats = [Double](repeating: 0, count: outputStatistics == nil ? 0 : tiles * M * 2)
        ScratchPool.shared.with(perThread * T) { scratch in
            channels.withUnsafeBufferPointer { chan in
            (inputTransform?.scale ?? []).withUnsafeBufferPointer { scale in
            (inputTransform?.shift ?? []).withUnsafeBufferPointer { shift in
            blockStats.withUnsafeMutableBufferPointer { stats in
                var d = mvx_fwd_wino()
                d.f = desc
                d.two_d = points == 16 ? 1 : 0
                d.chan = chan.baseAddress
                d.ostats = outputStatistics == nil ? nil : stats.baseAddress  // (an empty array's may be non-nil)
                if let t = inputTransform {
                    d.in_scale = scale.baseAddress
                    d.in_shift = shift.baseAddress
                    d.in_leaky = t.leakySlope == nil ? 0 : 1
                    d.in_slope = t.leakySlope ?? 0
                }
                withUnsafePointer(to: d) { dp in
                    if tiles < T {
                        runWinogradSharedBlocks(dp, scratch: scratch, threads: T)
                        return
                    }
                    parallelFor(T, threads: T) { t in
                        let sl = slots(scratch + t * perThread, threads: T)
                        for tile in chunkRange(tiles, part: t, of: T) {
                            let t0 = tile * nt
                            mvx_wino_block(dp, t0, min(total, t0 + nt), nt, 0, C, 0, mpad, sl.col, sl.acc, sl.offs, sl.stage)
                        }
                    }
                }
            }
            }
            }
            }
        }
        if let outputStatistics {
            outputStatistics.update(repeating: 0, count: M * 2)
            for b in 0..<blockStats.count / (M * 2) {
                for i in 0..<(M * 2) { outputStatistics[i] += blockStats[b * M * 2 + i] }
            }
        }
    }

    /// Fewer blocks than threads: per block, the threads first transform some input channels each
    /// into one shared V, then compute some output channels each from it (the same sums, whoever
    /// computes them).
    func runWinogradSharedBlocks(_ dp: UnsafePointer<mvx_fwd_wino>, scratch: UnsafeMutablePointer<Float>, threads T: Int) {
        let (mpad, total, nt, tiles, _, _, _, perThread) = layout(threads: T)
        let mr = Int(info.mr), shared = slots(scratch, threads: T).col
        for tile in 0..<tiles {
            let t0 = tile * nt, t1 = min(total, t0 + nt)
            parallelFor(T, threads: T) { t in
                let r = chunkRange(C, part: t, of: T), sl = slots(scratch + t * perThread, threads: T)
                if !r.isEmpty { mvx_wino_block(dp, t0, t1, nt, r.lowerBound, r.upperBound, 0, 0, shared, sl.acc, sl.offs, sl.stage) }
            }
            parallelFor(T, threads: T) { t in
                let r = chunkRange(mpad / mr, part: t, of: T), sl = slots(scratch + t * perThread, threads: T)
                if !r.isEmpty {
                    mvx_wino_block(dp, t0, t1, nt, 0, 0, r.lowerBound * mr, r.upperBound * mr, shared, sl.acc, sl.offs, sl.stage)
                }
            }
        }
    }
}
