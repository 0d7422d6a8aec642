import CMedVoxKernels
import MedVoxCore

/// Backward-weights on the backward-weights micro-kernels (`mvx_bww_part`) over the forward's
/// direct or gathered source geometry, and the bias gradient.
extension ConvPlan {
    /// The direct or gathered backward-weights, with the bias gradient summed from the output
    /// gradient rows its products read (one pass over that gradient, not two: 1→16 @128³ reads
    /// 134 MB once).
    func directBackwardWeights(
        input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
        gradBias: UnsafeMutablePointer<Float>?, threads: Int
    ) {
        let T = max(1, threads)
        let fp = Self.tiledForwardPass(s, info: Self.kernelInfo(info, outputChannels: s.co), settings: settings)  // same source geometry and direct/gather choice
        let mw = Int(info.mw), nw = Int(info.nw)
        let K = s.ci * s.taps
        let kblocks = (K + nw - 1) / nw
        // Vector partial sums across chunks (no per-chunk reduction) when they fit in 2 MB
        // (measured: larger ones cost more in cache misses than the reductions they save).
        let lanes = mvx_bww_lanes(info.isa)
        let mpad = (s.co + mw - 1) / mw * mw
        let vector = lanes > 0 && mpad * kblocks * nw * lanes * 4 <= 2 << 20
        // Positions per chunk; no more than there are (an 8³ grid has 512).
        let positions = fp.mode == .direct ? fp.span : s.outPlane
        let qc = min((vector ? max(256, min(1024, 32768 / s.co)) : 2048) / 16 * 16, (positions + 15) / 16 * 16)
        let direct = fp.mode == .direct
        // Threads split the (input channel, tap) blocks; with fewer than four per thread (a first
        // layer: 27 taps of one channel), the output channels instead, so the large output
        // gradient is read once rather than once per thread. Each (output, input) pair is summed
        // by one thread in chunk order either way.
        let mblocks = mpad / mw
        let splitOutputs = kblocks < 4 * T && mblocks >= T
        func part(_ t: Int) -> (Range<Int>, Range<Int>) {
            if splitOutputs {
                let r = chunkRange(mblocks, part: t, of: T)
                return (0..<kblocks, (r.lowerBound * mw)..<min(s.co, r.upperBound * mw))
            }
            return (chunkRange(kblocks, part: t, of: T), 0..<s.co)
        }
        let vaccCount = vector ? mpad * (splitOutputs ? kblocks : (kblocks + T - 1) / T) * nw * lanes : 0
        let runsCount = 3 * (qc + 2)
        let perThread = alignedFloats((direct ? s.co * (qc + 16) : (K + 2 * s.taps + nw) * (qc + 16)) + 2 * (K + nw) + 2 * runsCount + vaccCount)
        let padCount = fp.chanPitch * s.ci
        var d = mvx_bww()
        d.isa = info.isa; d.mw = info.mw; d.nw = info.nw
        d.direct = direct ? 1 : 0
        d.M = Int32(s.co); d.C = Int32(s.ci); d.taps = Int32(s.taps)
        d.gw = gradWeight
        d.go_plane = s.outPlane
        d.od = Int32(s.output[0]); d.oh = Int32(s.output[1]); d.ow = Int32(s.output[2])
        let offsets = fp.tapOffsets
        // Bias sums: 8 double lanes per output channel, reduced pairwise at the end.
        var bsum = [Double](repeating: 0, count: gradBias == nil ? 0 : s.co * 8)
        bsum.withUnsafeMutableBufferPointer { bs in
        d.gbias = gradBias == nil ? nil : bs.baseAddress
        ScratchPool.shared.with(padCount + perThread * T) { scratch in
            offsets.withUnsafeBufferPointer { tapoff in
                for n in 0..<s.n {
                    let x = input + n * s.ci * s.inPlane
                    d.go = gradOutput + n * s.co * s.outPlane
                    do {
                        let p = fp.padded
                        parallelFor(T, threads: T) { t in
                            let r = chunkRange(s.ci, part: t, of: T)
                            mvx_pad_copy(x, Int32(r.lowerBound), Int32(r.upperBound), Int32(s.input[0]), Int32(s.input[1]),
                                         Int32(s.input[2]), Int32(s.padding[0]), Int32(s.padding[1]), Int32(s.padding[2]),
                                         scratch, fp.chanPitch)
                        }
                        d.src = UnsafePointer(scratch)
                        d.chan_pitch = fp.chanPitch
                        d.pp = p[1] * p[2]
                        d.rp = p[2]
                        d.span = fp.span
                        d.tapoff = tapoff.baseAddress
                        d.mul = (Int32(s.stride[0]), Int32(s.stride[1]), Int32(s.stride[2]))
                    }
                    do {
                        d.raw = x
                        d.sd = Int32(s.input[0]); d.sh = Int32(s.input[1]); d.sw = Int32(s.input[2])
                        d.k = (Int32(s.kernel[0]), Int32(s.kernel[1]), Int32(s.kernel[2]))
                        d.mul = (Int32(s.stride[0]), Int32(s.stride[1]), Int32(s.stride[2]))
                        d.tmul = (Int32(s.dilation[0]), Int32(s.dilation[1]), Int32(s.dilation[2]))
                        d.off = (Int32(-s.padding[0]), Int32(-s.padding[1]), Int32(-s.padding[2]))
                        d.div = (1, 1, 1)
                    }
                    let desc = d
                    let first: Int32 = n == 0 ? 1 : 0
                    withUnsafePointer(to: desc) { dp in
                        parallelFor(T, threads: T) { t in
                            let (r, m) = part(t)
                            let base = scratch + padCount + t * perThread
                            let bufCount = perThread - 2 * (K + nw) - 2 * runsCount - vaccCount
                            let offs = UnsafeMutableRawPointer(base + bufCount).bindMemory(to: Int.self, capacity: K + nw)
                            let runs = UnsafeMutableRawPointer(base + bufCount + 2 * (K + nw)).bindMemory(to: Int.self, capacity: runsCount)
                            let vacc = vector ? base + bufCount + 2 * (K + nw) + 2 * runsCount : nil
                            if r.isEmpty || m.isEmpty { return }
                            mvx_bww_part(dp, r.lowerBound, r.upperBound, m.lowerBound, m.upperBound, first, base, base, qc, offs, vacc, runs)
                        }
                    }
                }
                if vector {
                    let desc = d
                    withUnsafePointer(to: desc) { dp in
                        parallelFor(T, threads: T) { t in
                            let (r, m) = part(t)
                            let vacc = scratch + padCount + t * perThread + perThread - vaccCount
                            if !r.isEmpty && !m.isEmpty { mvx_bww_finish(dp, r.lowerBound, r.upperBound, m.lowerBound, m.upperBound, vacc) }
                        }
                    }
                }
            }
        }
        }
        if let gradBias {
            bsum.withUnsafeBufferPointer { bs in
                for m in 0..<s.co { gradBias[m] = Self.foldLanes(bs.baseAddress! + m * 8) }
            }
        }
    }

    /// gradBias[co] = the sum of the output gradient over batch and space (8 double lanes per
    /// channel, as the direct pass sums it alongside its products).
    func biasGradient(_ gradOutput: UnsafePointer<Float>, _ gradBias: UnsafeMutablePointer<Float>, threads: Int) {
        let per = s.outPlane
        parallelFor(s.co, threads: max(1, threads)) { co in
            var lanes = [Double](repeating: 0, count: 8)
            lanes.withUnsafeMutableBufferPointer { l in
                for n in 0..<s.n { mvx_sum_lanes8(info.isa, l.baseAddress!, gradOutput + (n * s.co + co) * per, per) }
                gradBias[co] = Self.foldLanes(l.baseAddress!)
            }
        }
    }

    /// The 8 lanes of a bias sum, added pairwise in a fixed order.
    static func foldLanes(_ l: UnsafePointer<Double>) -> Float {
        Float(((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])))
    }
}
