import CMedVoxKernels
import MedVoxCore

/// Backward-weights on the backward-weights micro-kernels (`mvx_bww_direct_part`,
/// `mvx_bww_gather_part`) over the forward's direct or gathered source geometry, and the bias
/// gradient.
extension ConvPlan {
    /// The direct or gathered backward-weights, with the bias gradient summed from the output
    /// gradient rows its products read (one pass over that gradient, not two: 1→16 @128³ reads
    /// 134 MB once). Per batch item: the padded copy of the input, then each thread's (K blocks,
    /// output channels) part over all positions in chunk order; vector partial sums are reduced
    /// into gradWeight after the last item.
    func directBackwardWeights(
        input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
        gradBias: UnsafeMutablePointer<Float>?, threads: Int
    ) {
        let T = max(1, threads)
        let l = BackwardWeightsLayout(self, threads: T)
        var d = backwardWeightsDescriptor(gradWeight: gradWeight)
        // Bias sums: 8 double lanes per output channel, reduced pairwise at the end.
        var bsum = [Double](repeating: 0, count: gradBias == nil ? 0 : s.co * 8)
        bsum.withUnsafeMutableBufferPointer { bs in
            d.gbias = gradBias == nil ? nil : bs.baseAddress
            ScratchPool.shared.with(l.padCount + l.perThread * T) { scratch in
                /// Runs `part(K blocks, output channels, slots)` for every thread that has work.
                func eachPart(_ part: (Range<Int>, Range<Int>, BackwardWeightsLayout.Slots) -> Void) {
                    parallelFor(T, threads: T) { t in
                        let (r, m) = l.part(t)
                        if !r.isEmpty && !m.isEmpty { part(r, m, l.slots(scratch, thread: t)) }
                    }
                }
                l.pass.tapOffsets.withUnsafeBufferPointer { tapoff in
                    let source = l.pass.paddedSource(scratch, pitch: l.pass.chanPitch, tapOffsets: tapoff.baseAddress!)
                    let mul = (Int32(l.pass.mul[0]), Int32(l.pass.mul[1]), Int32(l.pass.mul[2]))
                    for n in 0..<s.n {
                        padInput(input + n * s.ci * s.inPlane, l, into: scratch, threads: T)
                        d.go = gradOutput + n * s.co * s.outPlane
                        let first: Int32 = n == 0 ? 1 : 0
                        if l.direct {
                            withUnsafePointer(to: mvx_bww_direct(b: d, s: source, span: l.pass.span)) { dp in
                                eachPart { r, m, sl in
                                    mvx_bww_direct_part(dp, r.lowerBound, r.upperBound, m.lowerBound, m.upperBound, first, sl.buf, l.qc,
                                                        sl.offs, sl.vacc)
                                }
                            }
                        } else {
                            withUnsafePointer(to: mvx_bww_gather(b: d, s: source, mul: mul)) { dp in
                                eachPart { r, m, sl in
                                    mvx_bww_gather_part(dp, r.lowerBound, r.upperBound, m.lowerBound, m.upperBound, first, sl.buf, l.qc,
                                                        sl.offs, sl.vacc, sl.runs)
                                }
                            }
                        }
                    }
                }
                guard l.vector else { return }
                withUnsafePointer(to: d) { dp in
                    eachPart { r, m, sl in mvx_bww_finish(dp, r.lowerBound, r.upperBound, m.lowerBound, m.upperBound, sl.vacc) }
                }
            }
        }
        if let gradBias {
            bsum.withUnsafeBufferPointer { bs in
                for m in 0..<s.co { gradBias[m] = Self.foldLanes(bs.baseAddress! + m * 8) }
            }
        }
    }

    /// What both backward-weights modes compute and write (`mvx_bww`), apart from the batch item's
    /// output gradient and the bias sums.
    func backwardWeightsDescriptor(gradWeight: UnsafeMutablePointer<Float>) -> mvx_bww {
        var d = mvx_bww()
        d.isa = info.isa; d.mw = info.mw; d.nw = info.nw
        d.M = Int32(s.co); d.C = Int32(s.ci); d.taps = Int32(s.taps)
        d.gw = gradWeight
        d.go_plane = s.outPlane
        d.od = Int32(s.output[0]); d.oh = Int32(s.output[1]); d.ow = Int32(s.output[2])
        return d
    }

    /// Fills the padded copy of batch item `x` at `padded`, in the layout's forward pass's geometry.
    func padInput(_ x: UnsafePointer<Float>, _ l: BackwardWeightsLayout, into padded: UnsafeMutablePointer<Float>, threads T: Int) {
        parallelFor(T, threads: T) { t in
            let r = chunkRange(s.ci, part: t, of: T)
            mvx_pad_copy(x, Int32(r.lowerBound), Int32(r.upperBound), Int32(s.input[0]), Int32(s.input[1]),
                         Int32(s.input[2]), Int32(s.padding[0]), Int32(s.padding[1]), Int32(s.padding[2]),
                         padded, l.pass.chanPitch)
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

/// How the direct or gathered backward-weights splits its work and its scratch among `T` threads:
/// the forward's tiled pass (same source geometry and direct/gather choice), chunks of `qc`
/// positions, and per thread a gradient or column buffer, K offsets, runs and vector partial sums.
struct BackwardWeightsLayout {
    let pass: FastPass
    let direct: Bool
    let K: Int, kblocks: Int, mw: Int, nw: Int, mblocks: Int, co: Int, threads: Int
    /// Vector partial sums across chunks (no per-chunk reduction).
    let vector: Bool
    let qc: Int, splitOutputs: Bool
    let vaccCount: Int, runsCount: Int, perThread: Int, padCount: Int

    init(_ plan: ConvPlan, threads T: Int) {
        let s = plan.s, info = plan.info
        pass = ConvPlan.tiledForwardPass(s, info: ConvPlan.kernelInfo(info, outputChannels: s.co), settings: plan.settings)
        mw = Int(info.mw); nw = Int(info.nw)
        K = s.ci * s.taps
        kblocks = (K + nw - 1) / nw
        co = s.co
        threads = T
        // Vector partial sums when they fit in 2 MB (measured: larger ones cost more in cache
        // misses than the reductions they save).
        let lanes = mvx_bww_lanes(info.isa)
        let mpad = (s.co + mw - 1) / mw * mw
        vector = lanes > 0 && mpad * kblocks * nw * lanes * 4 <= 2 << 20
        // Positions per chunk; no more than there are (an 8³ grid has 512).
        direct = pass.mode == .direct
        let positions = direct ? pass.span : s.outPlane
        qc = min((vector ? max(256, min(1024, 32768 / s.co)) : 2048) / 16 * 16, (positions + 15) / 16 * 16)
        // Threads split the (input channel, tap) blocks; with fewer than four per thread (a first
        // layer: 27 taps of one channel), the output channels instead, so the large output
        // gradient is read once rather than once per thread. Each (output, input) pair is summed
        // by one thread in chunk order either way.
        mblocks = mpad / mw
        splitOutputs = kblocks < 4 * T && mblocks >= T
        vaccCount = vector ? mpad * (splitOutputs ? kblocks : (kblocks + T - 1) / T) * nw * lanes : 0
        runsCount = 3 * (qc + 2)
        perThread = alignedFloats((direct ? s.co * (qc + 16) : (K + 2 * s.taps + nw) * (qc + 16)) + 2 * (K + nw) + 2 * runsCount + vaccCount)
        padCount = pass.chanPitch * s.ci
    }

    /// Thread t's K blocks and output channels.
    func part(_ t: Int) -> (Range<Int>, Range<Int>) {
        if splitOutputs {
            let r = chunkRange(mblocks, part: t, of: threads)
            return (0..<kblocks, (r.lowerBound * mw)..<min(co, r.upperBound * mw))
        }
        return (chunkRange(kblocks, part: t, of: threads), 0..<co)
    }

    /// One thread's slots: the gradient (direct) or column (gathered) buffer, K offsets, runs, and
    /// vector partial sums (nil without vector accumulation).
    struct Slots {
        let buf: UnsafeMutablePointer<Float>, offs: UnsafeMutablePointer<Int>, runs: UnsafeMutablePointer<Int>
        let vacc: UnsafeMutablePointer<Float>?
    }

    /// Thread t's slots after the padded copy in `scratch`.
    func slots(_ scratch: UnsafeMutablePointer<Float>, thread t: Int) -> Slots {
        let base = scratch + padCount + t * perThread
        let bufCount = perThread - 2 * (K + nw) - 2 * runsCount - vaccCount
        let offs = UnsafeMutableRawPointer(base + bufCount).bindMemory(to: Int.self, capacity: K + nw)
        let runs = UnsafeMutableRawPointer(base + bufCount + 2 * (K + nw)).bindMemory(to: Int.self, capacity: runsCount)
        return Slots(buf: base, offs: offs, runs: runs, vacc: vector ? base + bufCount + 2 * (K + nw) + 2 * runsCount : nil)
    }

}
