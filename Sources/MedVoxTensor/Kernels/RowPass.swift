import CMedVoxKernels
import MedVoxCore

/// The row pass: one output channel of a kd×3×3 "same" convolution (`mvx_fwd_rows1`, AVX-512), in
/// register blocks of 4 rows by 32 positions, reading each channel where it lives; the bits of the
/// one-row direct tiles. It declines every other shape, and forced tile kinds.
extension FastPass {
    /// Whether the single-output-channel row kernel serves a pass (`FastPass.Mode.rows`): one output
    /// channel (one-row weights), kd×3×3 taps with kd odd, stride and dilation 1, padding that keeps
    /// the grid ((kd-1)/2, 1, 1), a grid of 4+ rows of 32+ (AVX-512), and no forced tile kind.
    static func rowsFit(M: Int, kernel: [Int], stride: [Int], dilation: [Int], pad: [Int], src: [Int], out: [Int],
                        info: mvx_isa_info, settings: KernelSettings) -> Bool {
        M == 1 && info.mr == 1 && kernel[1] == 3 && kernel[2] == 3 && kernel[0] % 2 == 1 && pad == [(kernel[0] - 1) / 2, 1, 1]
            && stride == [1, 1, 1] && dilation == [1, 1, 1] && src == out && settings.forceDirect == nil
            && mvx_rows1_fits(info.isa, Int32(out[1]), Int32(out[2])) != 0
    }

    /// The forward pass as the row kernel, or nil (declined).
    static func rowsForward(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass? {
        guard rowsFit(M: s.co, kernel: s.kernel, stride: s.stride, dilation: s.dilation, pad: s.padding, src: s.input,
                      out: s.output, info: info, settings: settings)
        else { return nil }
        return FastPass(
            mode: .rows, info: info, settings: settings, M: 1, C: s.ci, taps: s.taps,
            kcc: channelsPerChunk(s.ci, taps: s.taps, direct: true), src: s.input, pad: s.padding, out: s.output,
            kernel: s.kernel, dilation: s.dilation, mul: s.stride, tmul: s.dilation, off: s.padding.map { -$0 },
            div: [1, 1, 1])
    }

    /// Backward-data as the row kernel over the output gradient (flipped weights), or nil
    /// (declined).
    static func rowsBackwardData(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass? {
        let pad2 = backwardDataPadding(s)
        guard rowsFit(M: s.ci, kernel: s.kernel, stride: s.stride, dilation: s.dilation, pad: pad2, src: s.output, out: s.input,
                      info: info, settings: settings)
        else { return nil }
        return FastPass(
            mode: .rows, info: info, settings: settings, M: 1, C: s.co, taps: s.taps,
            kcc: channelsPerChunk(s.co, taps: s.taps, direct: true), src: s.output, pad: pad2, out: s.input,
            kernel: s.kernel, dilation: s.dilation, mul: [1, 1, 1], tmul: s.dilation.map { -$0 }, off: s.padding,
            div: s.stride)
    }

    /// Threads take ranges of planes (each walks its planes band by band) or, with fewer than two
    /// planes per thread (2D), (plane, rows) units whose rows start at multiples of the kernel's
    /// 4-row blocks.
    func runRows(_ desc: mvx_fwd, channels: [UnsafePointer<Float>?], threads T: Int) {
        channels.withUnsafeBufferPointer { chan in
            var d = mvx_fwd_rows()
            d.f = desc
            d.chan = chan.baseAddress
            withUnsafePointer(to: d) { dp in
                let rows = out[1], blocks = rows / 4
                let split = out[0] >= 2 * T ? 1 : max(1, min(blocks, (2 * T + out[0] - 1) / out[0]))
                parallelFor(T, threads: T) { t in
                    if split == 1 {
                        let r = chunkRange(out[0], part: t, of: T)
                        if !r.isEmpty { mvx_fwd_rows1(dp, r.lowerBound, r.upperBound, 0, rows) }
                        return
                    }
                    for u in chunkRange(out[0] * split, part: t, of: T) {
                        let z = u / split, k = u % split
                        let y0 = k * blocks / split * 4, y1 = k + 1 == split ? rows : (k + 1) * blocks / split * 4
                        mvx_fwd_rows1(dp, z, z + 1, y0, y1)
                    }
                }
            }
        }
    }
}
