import CMedVoxKernels
import MedVoxCore

/// The direct pass: positions on the zero-padded source's grid, every tap a shifted view of the
/// same padded copy (no im2col), stride 1 only; and the phases of a transposed convolution whose
/// stride equals its kernel, each a 1-tap direct pass over the source grid. It declines other
/// strides, and shapes where the padded grid's margins waste more than gathered tiles copy.
extension FastPass {
    /// Direct tiles waste the padded grid's margins; gathered tiles copy K rows per tile and run
    /// their micro-kernels from a larger footprint. Direct needs stride 1 (`possible`).
    static func chooseDirect(possible: Bool, span: Int, valid: Int, forceDirect: Bool?) -> Bool {
        guard possible else { return false }
        if let f = forceDirect { return f }
        // Measured on Zen 4 (CPU time): direct and gathered tie at about 13% waste, gathered wins
        // beyond.
        return Double(span) / Double(valid) <= 1.15
    }

    /// The forward pass as direct tiles, or nil (declined: stride > 1, or gathered tiles chosen).
    static func directForward(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass? {
        let stride1 = s.stride.allSatisfy { $0 == 1 }
        let padded = (0..<3).map { s.input[$0] + 2 * s.padding[$0] }
        let span = ((s.output[0] - 1) * padded[1] + (s.output[1] - 1)) * padded[2] + s.output[2]
        guard chooseDirect(possible: stride1, span: span, valid: s.outPlane, forceDirect: settings.forceDirect) else { return nil }
        return FastPass(
            mode: .direct, info: info, settings: settings, M: s.co, C: s.ci, taps: s.taps,
            kcc: channelsPerChunk(s.ci, taps: s.taps, direct: true), src: s.input, pad: s.padding, out: s.output,
            kernel: s.kernel, dilation: s.dilation, mul: s.stride, tmul: s.dilation, off: s.padding.map { -$0 },
            div: [1, 1, 1])
    }

    /// Backward-data as direct tiles: a correlation of the output gradient with the flipped kernel
    /// and padding d(k-1)-p; nil (declined) for stride > 1, padding beyond d(k-1), or where
    /// gathered tiles are chosen.
    static func directBackwardData(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass? {
        let pad2 = backwardDataPadding(s)
        let possible = s.stride.allSatisfy { $0 == 1 } && pad2.allSatisfy { $0 >= 0 }
        let padded = (0..<3).map { s.output[$0] + 2 * max(0, pad2[$0]) }
        let span = ((s.input[0] - 1) * padded[1] + (s.input[1] - 1)) * padded[2] + s.input[2]
        guard chooseDirect(possible: possible, span: span, valid: s.inPlane, forceDirect: settings.forceDirect) else { return nil }
        return FastPass(
            mode: .direct, info: info, settings: settings, M: s.ci, C: s.co, taps: s.taps,
            kcc: channelsPerChunk(s.co, taps: s.taps, direct: true), src: s.output, pad: pad2.map { max(0, $0) },
            out: s.input, kernel: s.kernel, dilation: s.dilation, mul: [1, 1, 1], tmul: s.dilation.map { -$0 },
            off: s.padding, div: s.stride)
    }

    /// The padding of backward-data as a correlation over the output gradient, d(k-1)-p per axis
    /// (negative where the forward padding exceeds d(k-1)).
    static func backwardDataPadding(_ s: Conv3DShape) -> [Int] {
        (0..<3).map { s.dilation[$0] * (s.kernel[$0] - 1) - s.padding[$0] }
    }

    /// Backward-data of a convolution with stride = kernel > 1, no padding, dilation 1 (the
    /// transposed convolution of U-Nets): one 1×1 product per phase, each writing every stride-th
    /// element; nil (declined) for other shapes or when gathered tiles are forced.
    static func transposedPhases(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass? {
        guard s.stride == s.kernel, s.stride.contains(where: { $0 > 1 }), s.padding.allSatisfy({ $0 == 0 }),
            s.dilation.allSatisfy({ $0 == 1 }), settings.forceDirect != false
        else { return nil }
        var p = FastPass(
            mode: .direct, info: info, settings: settings, M: s.ci, C: s.co, taps: 1,
            kcc: channelsPerChunk(s.co, taps: 1, direct: true), src: s.output, pad: [0, 0, 0],
            out: s.output, kernel: [1, 1, 1], dilation: [1, 1, 1], mul: [1, 1, 1], tmul: [1, 1, 1],
            off: [0, 0, 0], div: [1, 1, 1])
        p.outStride = s.stride
        p.fullOut = s.input
        return p
    }

    /// Output planes per slab when a direct pass should pad its source a slab at a time, nil
    /// otherwise: a padded copy of more than `KernelSettings.slabFloats`, read back from memory,
    /// costs more than copying each slab's planes, halo included, into a per-thread buffer that
    /// stays in cache.
    func slabPlanes(threads T: Int) -> Int? {
        let p = padded, plane = p[1] * p[2], halo = dilation[0] * (kernel[0] - 1)
        guard C * chanPitch > settings.slabFloats, out[0] >= 2 * T else { return nil }
        // About 2 M floats (8 MB) of padded planes per thread.
        return max(1, min(out[0] / T, (2 << 20) / (C * plane) - halo))
    }

    /// A direct pass whose threads each take a range of output planes and pad their source a slab
    /// of `planes` output planes at a time into their own buffer (`mvx_pad_copy_planes`); the
    /// same tiles and sums as `run` per output element, so the same bits.
    func runDirectSlabs(_ desc: mvx_fwd, groups: [(UnsafePointer<Float>, Int)], planes sz: Int, threads T: Int) {
        let p = padded, pp = p[1] * p[2], rp = p[2]
        let halo = dilation[0] * (kernel[0] - 1)
        let slabPitch = alignedFloats((sz + halo) * pp + Int(info.nr) + 64)
        let (_, _, nt, _, _, _, _, perThread) = layout(threads: T)
        let perSlabThread = C * slabPitch + perThread
        let offsets = tapOffsets
        ScratchPool.shared.with(perSlabThread * T) { scratch in
            offsets.withUnsafeBufferPointer { tapoff in
                parallelFor(T, threads: T) { t in
                    let slab = scratch + t * perSlabThread
                    let sl = slots(slab + C * slabPitch, threads: T)
                    let range = chunkRange(out[0], part: t, of: T)
                    var z0 = range.lowerBound
                    while z0 < range.upperBound {
                        let z1 = min(range.upperBound, z0 + sz)
                        var c0 = 0
                        for (pointer, count) in groups {
                            mvx_pad_copy_planes(pointer, 0, Int32(count), Int32(src[0]), Int32(src[1]), Int32(src[2]), Int32(pad[0]),
                                                Int32(pad[1]), Int32(pad[2]), Int32(z0), Int32(z1 + halo), slab + c0 * slabPitch, slabPitch)
                            c0 += count
                        }
                        var f = desc
                        f.od = Int32(z1 - z0)
                        f.out = desc.out + z0 * out[1] * out[2]
                        let d = directSource(f, slab, pitch: slabPitch, tapOffsets: tapoff.baseAddress!)
                        let span = ((z1 - z0 - 1) * pp + (out[1] - 1) * rp) + out[2]
                        withUnsafePointer(to: d) { dp in
                            var t0 = 0
                            while t0 < span {
                                mvx_fwd_direct_tile(dp, t0, min(span, t0 + nt), sl.acc, nt, sl.offs)
                                t0 += nt
                            }
                        }
                        z0 = z1
                    }
                }
            }
        }
    }
}
