import CMedVoxKernels
import MedVoxCore

/// Winograd backward-weights: the adjoint of the forward's F(2³, 3³), for layers with a Winograd
/// forward and enough channels.
extension ConvPlan {
    /// Whether backward-weights runs as Winograd: with a Winograd forward and 64 channels or more
    /// each way, where its products outweigh its transforms (measured on Zen 4 against the direct
    /// pass: faster from 64 channels each way, up to several times slower below), or when forced.
    var winogradWeights: Bool {
        guard forwardPass?.mode == .winograd, s.kernel[0] == 3 else { return false }
        if settings.winograd == true { return true }
        return s.ci >= 64 && s.co >= 64
    }

    /// Winograd backward-weights (the adjoint of the forward's F(2³, 3³)): per chunk of 256 tiles,
    /// the input and output-gradient transforms (split over threads by channels), then the 64
    /// products dU[ξ] = GY[ξ]·V[ξ]ᵀ as matrix products on the forward micro-kernel, each summed
    /// over the chunk's tiles in order, and dW = Gᵀ dU G.
    /// - One chunk (batch 1, grids up to 16×16×8): the transforms are packed into the kernel's
    ///   operands (split by ξ), then threads split the output channels, a few kernel rows at a time
    ///   for all ξ, so their products stay in cache until dW is taken from them.
    /// - Several: threads split ξ, each packing and multiplying its points in cache and adding them
    ///   to dU in double (chunks in order); dW after the last.
    /// Workspace: 64·(Cin + Cout)·256 floats, twice with one chunk, plus up to 1.5 MB of products per
    /// thread, or with several chunks 64·Cout·Cin doubles (Cin rounded up to 8); 36 KB of
    /// transform staging per thread and the kernel's 256 row offsets, all from the scratch pool.
    func winogradBackwardWeights(input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
                                 threads: Int) {
        let T = max(1, threads)
        let (C, M) = (s.ci, s.co)
        let tiles = mvx_wino_tiles(Int32(s.output[0]), Int32(s.output[1]), Int32(s.output[2]))
        let chunk = Int(MVX_WINO_BWW_CHUNK)
        let chunks = s.n * ((tiles + chunk - 1) / chunk)
        // Kernel rows × columns: whichever pads C and M less (AVX-512: 8 × 48 or 12 × 32).
        let (wide, short) = (info, mvx_isa_info_short(info.isa))
        func padded(_ i: mvx_isa_info) -> Int {
            ((C + Int(i.nr) - 1) / Int(i.nr) * Int(i.nr)) * ((M + Int(i.mr) - 1) / Int(i.mr) * Int(i.mr))
        }
        let k = padded(short) < padded(wide) ? short : wide
        let (mr, nr) = (Int(k.mr), Int(k.nr))
        let Cpad = (C + nr - 1) / nr * nr, Mpad = (M + mr - 1) / mr * mr
        let blocks = Mpad / mr
        // One chunk: kernel rows per step, their products (64 × rows × Cpad floats) within 1.5 MB.
        let step = mr * max(1, min((blocks + T - 1) / T, (3 << 17) / (64 * mr * Cpad)))
        let (vx, vc, gx, gm) = (C * chunk, chunk, M * chunk, chunk)
        let extra = alignedFloats(chunks == 1 ? 64 * (Mpad + Cpad) * chunk + T * 64 * step * Cpad : T * (Mpad * (chunk + Cpad) + chunk * Cpad))
        let stageCount = Int(MVX_WINO_STAGE_FLOATS)
        var dU = [Double](repeating: 0, count: chunks > 1 ? 64 * M * ((C + 7) / 8 * 8) : 0)
        var d = mvx_fwd_wino()
        d.f.isa = info.isa; d.f.M = Int32(M); d.f.C = Int32(C)
        d.f.od = Int32(s.output[0]); d.f.oh = Int32(s.output[1]); d.f.ow = Int32(s.output[2])
        let plane = s.inPlane
        ScratchPool.shared.with(64 * (C + M) * chunk + extra + T * stageCount + 2 * chunk) { scratch in
            let V = scratch, GY = scratch + 64 * C * chunk, rest = GY + 64 * M * chunk, stages = rest + extra
            let offs = UnsafeMutableRawPointer(stages + T * stageCount).bindMemory(to: Int.self, capacity: chunk)
            for t in 0..<chunk { offs[t] = t * Cpad }
            var products = mvx_wino_bww()
            products.isa = k.isa; products.mr = k.mr; products.nr = k.nr
            products.M = M; products.C = C; products.Cpad = Cpad
            products.GY = UnsafePointer(GY); products.gx = gx; products.gm = gm
            products.V = UnsafePointer(V); products.vx = vx; products.vc = vc
            products.offs = UnsafePointer(offs)
            dU.withUnsafeMutableBufferPointer { du in
                var index = 0
                for n in 0..<s.n {
                    let x = input + n * C * plane, gy = gradOutput + n * M * s.outPlane
                    let channels: [UnsafePointer<Float>?] = (0..<C).map { x + $0 * plane }
                    channels.withUnsafeBufferPointer { chan in
                        d.chan = chan.baseAddress
                        let desc = d
                        withUnsafePointer(to: desc) { dp in
                            for t0 in stride(from: 0, to: tiles, by: chunk) {
                                let count = min(chunk, tiles - t0), L = (count + 15) / 16 * 16
                                parallelFor(T, threads: T) { t in
                                    // Input channels then output channels, split evenly.
                                    let r = chunkRange(C + M, part: t, of: T)
                                    mvx_wino_bww_transform(dp, gy, t0, count, min(r.lowerBound, C), min(r.upperBound, C),
                                                           max(r.lowerBound - C, 0), max(r.upperBound - C, 0), V, vx, vc, GY, gx, gm,
                                                           stages + t * stageCount)
                                }
                                products.L = L
                                withUnsafePointer(to: products) { bp in
                                    if chunks == 1 {
                                        Self.winogradProductsOfOneChunk(bp, work: rest, step: step, gradWeight: gradWeight, threads: T)
                                    } else {
                                        Self.winogradProductsAdded(bp, work: rest, into: du.baseAddress!, first: index == 0, threads: T)
                                    }
                                }
                                index += 1
                            }
                        }
                    }
                }
                if chunks > 1 {
                    let base = du.baseAddress!
                    parallelFor(T, threads: T) { t in
                        let r = chunkRange(M, part: t, of: T)
                        mvx_wino_bww_finish(k.isa, M, C, base, r.lowerBound, r.upperBound, gradWeight)
                    }
                }
            }
        }
    }

    /// The products of a grid of one chunk: threads pack the operands of some points each, then
    /// take some output channels each, `step` kernel rows at a time for all points, computing dW
    /// from their products while those are in cache. `work`: GA, VT and each thread's products.
    static func winogradProductsOfOneChunk(_ bp: UnsafePointer<mvx_wino_bww>, work: UnsafeMutablePointer<Float>, step: Int,
                                           gradWeight: UnsafeMutablePointer<Float>, threads T: Int) {
        let b = bp.pointee, chunk = Int(MVX_WINO_BWW_CHUNK), mr = Int(b.mr)
        let Mpad = (b.M + mr - 1) / mr * mr
        let GA = work, VT = GA + 64 * Mpad * chunk, P = VT + 64 * chunk * b.Cpad
        parallelFor(T, threads: T) { t in
            let r = chunkRange(64, part: t, of: T)
            mvx_wino_bww_pack(bp, r.lowerBound, r.upperBound, GA, VT)
        }
        parallelFor(T, threads: T) { t in
            let r = chunkRange(Mpad / mr, part: t, of: T)
            for r0 in stride(from: r.lowerBound * mr, to: r.upperBound * mr, by: step) {
                mvx_wino_bww_gemm(bp, GA, VT, r0, min(r0 + step, r.upperBound * mr), P + t * 64 * step * b.Cpad, gradWeight)
            }
        }
    }

    /// The products of one of several chunks: threads take some points each, packing and
    /// multiplying them in their own part of `work` and storing (`first`) or adding them in dU.
    static func winogradProductsAdded(_ bp: UnsafePointer<mvx_wino_bww>, work: UnsafeMutablePointer<Float>,
                                      into dU: UnsafeMutablePointer<Double>, first: Bool, threads T: Int) {
        let b = bp.pointee, chunk = Int(MVX_WINO_BWW_CHUNK), mr = Int(b.mr)
        let Mpad = (b.M + mr - 1) / mr * mr
        parallelFor(T, threads: T) { t in
            let r = chunkRange(64, part: t, of: T)
            mvx_wino_bww_points(bp, r.lowerBound, r.upperBound, work + t * (Mpad * (chunk + b.Cpad) + chunk * b.Cpad), dU, first ? 1 : 0)
        }
    }
}
