import CMedVoxKernels
import MedVoxCore

/// How a forward-type pass (forward, or backward-data as the forward of the output gradient)
/// runs: the source it reads, the grid it writes, and its packed weights.
struct FastPass {
    /// direct: positions on the padded source's grid, taps as shifted views (stride 1 only);
    /// gather: column tiles copied from the padded source; gatherRaw: column tiles from the raw
    /// source with index maps (backward-data with stride > 1 or padding > d(k-1)); winograd:
    /// F(2³, 3³) over 2×2×2 output tiles (3×3×3, stride 1, padding 1), reading each channel of
    /// the source where it lives (no padded copy, no concatenation); rows: one output channel of a
    /// kd×3×3 "same" convolution (`mvx_fwd_rows1`), in register blocks of rows, reading each channel
    /// where it lives.
    enum Mode { case direct, gather, gatherRaw, winograd, rows }
    let mode: Mode
    let info: mvx_isa_info
    /// The plan's kernel settings (slab threshold).
    let settings: KernelSettings
    /// Output channels, input channels, taps, channels per K chunk.
    let M: Int, C: Int, taps: Int, kcc: Int
    /// Source spatial dims (raw) and its padding (direct mode).
    let src: [Int], pad: [Int]
    /// Output spatial dims.
    let out: [Int]
    let kernel: [Int], dilation: [Int]
    /// Index maps per axis: raw source index = (o*mul + t*tmul + off) / div (gatherRaw); from
    /// the padded source, o*mul + t*dilation (gather, direct with mul = 1).
    let mul: [Int], tmul: [Int], off: [Int], div: [Int]

    var usesPadded: Bool { mode == .direct || mode == .gather }
    /// Whether the pass reads its source as channel groups (`run(parts:)`) without building their
    /// concatenation.
    var readsParts: Bool { mode != .gatherRaw }

    /// Phase decomposition of a transposed convolution with stride = kernel (no overlap): the
    /// grid `out` is the source grid, and each of the ∏stride phases writes every stride-th
    /// element of the `fullOut` output through its own 1-tap weights. nil for other passes.
    var outStride: [Int]? = nil
    var fullOut: [Int] = []
    var phases: [[Int]] {
        guard let st = outStride else { return [[0, 0, 0]] }
        var p = [[Int]]()
        for a in 0..<st[0] { for b in 0..<st[1] { for c in 0..<st[2] { p.append([a, b, c]) } } }
        return p
    }

    var padded: [Int] { (0..<3).map { src[$0] + 2 * pad[$0] } }
    var chanPitch: Int { alignedFloats(padded.reduce(1, *) + Int(info.nr) + 64) }
    var tapOffsets: [Int] {
        let p = padded
        var o = [Int]()
        for a in 0..<kernel[0] { for b in 0..<kernel[1] { for c in 0..<kernel[2] {
            o.append((a * dilation[0] * p[1] + b * dilation[1]) * p[2] + c * dilation[2])
        } } }
        return o
    }
    /// Positions a direct pass computes: the padded grid up to the last output element.
    var span: Int {
        let p = padded
        return ((out[0] - 1) * p[1] + (out[1] - 1)) * p[2] + out[2]
    }
    var validCount: Int { out.reduce(1, *) }

    /// Channels per K chunk: the micro-kernel's B rows of one chunk should stay in L1 — in direct
    /// mode a chunk reads a few shifted rows per channel (K up to 512), in gathered mode a
    /// contiguous K × nr block (K up to 160).
    static func channelsPerChunk(_ C: Int, taps: Int, direct: Bool) -> Int {
        let target = direct ? 512 : 160
        let chunks = max(1, (C * taps + target - 1) / target)
        return (C + chunks - 1) / chunks
    }

    /// Winograd transform points: 64 (3D), 16 (2D, kernel 1×3×3 in the 3D view).
    var points: Int { kernel[0] == 1 ? 16 : 64 }

    /// Packed floats per phase (winograd: the transform points instead of the taps).
    var packedCount: Int { (M + Int(info.mr) - 1) / Int(info.mr) * Int(info.mr) * C * (mode == .winograd ? points : taps) }

    /// Runs the pass for one batch item: `source` [C][src...] -> `output` [M][out...].
    /// Tile layout for `T` threads: padded row count, positions, tile length and count, K rows,
    /// and the per-thread scratch (accumulator tile, column tile, offsets and runs).
    func layout(threads T: Int) -> (mpad: Int, total: Int, nt: Int, tiles: Int, kmax: Int, colCount: Int, runsCount: Int, perThread: Int) {
        let mr = Int(info.mr), nr = Int(info.nr)
        let mpad = (M + mr - 1) / mr * mr
        if mode == .rows { return (mpad, 0, 0, 0, 0, 0, 0, 0) }
        if mode == .winograd {
            // Blocks of nt output tiles (fixed, whatever T): transformed inputs V (64·C·nt floats
            // and line padding) in the column slot, products [mpad][64·nt+16] in the accumulator
            // slot, offsets [C], and the transforms' staging (MVX_WINO_STAGE_FLOATS).
            let total = mvx_wino_tiles(Int32(out[0]), Int32(out[1]), Int32(out[2]))
            // A multiple of the transforms' 16 lanes (AVX2: nr 24); a small grid in one block (its
            // threads then share the output channels, and each streams its weights once), of at
            // most 256 tiles (the transforms' 16 lane groups; one-row kernels' unit is 192).
            let unit = nr % 16 == 0 ? nr : 2 * nr
            let whole = (total + unit - 1) / unit * unit
            let nt = total <= 2 * unit && whole <= 256 ? whole : unit
            let colCount = max(points * (C * nt + 16), C * (points * nt + 16))
            let perThread = alignedFloats(mpad * (points * nt + 16) + colCount + alignedFloats(2 * C) + Int(MVX_WINO_STAGE_FLOATS))
            return (mpad, total, nt, (total + nt - 1) / nt, C, colCount, 0, perThread)
        }
        let total = mode == .direct ? span : validCount
        // Tile length: a multiple of nr, acc tile within ~128 KB, at least ~4 tiles per thread.
        let maxSubs = max(1, min(8, 32768 / (mpad * nr)))
        let subs = max(1, min(maxSubs, (total + nr * T * 4 - 1) / (nr * T * 4)))
        let nt = subs * nr
        let tiles = (total + nt - 1) / nt
        let kmax = kcc * taps
        let colCount = mode == .direct ? 0 : kmax * nt
        let runsCount = 3 * (nt + nt / nr + 2)
        let perThread = alignedFloats(mpad * nt + colCount + 2 * kmax + 2 * runsCount)  // offs, runs: Int = 2 floats
        return (mpad, total, nt, tiles, kmax, colCount, runsCount, perThread)
    }

    /// A thread's scratch slots: accumulators, the column tile (Winograd: its transformed inputs
    /// V), K offsets, runs (tiles) and the transforms' staging (Winograd).
    typealias Slots = (acc: UnsafeMutablePointer<Float>, col: UnsafeMutablePointer<Float>, offs: UnsafeMutablePointer<Int>,
                       runs: UnsafeMutablePointer<Int>, stage: UnsafeMutablePointer<Float>)

    /// A thread's scratch slots from `base` (`layout(threads:).perThread` floats).
    func slots(_ base: UnsafeMutablePointer<Float>, threads T: Int) -> Slots {
        let (mpad, _, nt, _, kmax, colCount, runsCount, _) = layout(threads: T)
        let col = base + (mode == .winograd ? mpad * (points * nt + 16) : mpad * nt)
        let offs = col + colCount, runs = offs + 2 * kmax
        let stage = mode == .winograd ? offs + alignedFloats(2 * kmax) : runs + 2 * runsCount
        return (base, col, UnsafeMutableRawPointer(offs).bindMemory(to: Int.self, capacity: kmax),
                UnsafeMutableRawPointer(runs).bindMemory(to: Int.self, capacity: runsCount), stage)
    }

    /// Floats of pooled scratch `run` takes with `threads` threads.
    func scratchCount(threads: Int) -> Int {
        let T = max(1, threads)
        return (usesPadded ? chanPitch * C : 0) + layout(threads: T).perThread * T
    }

    /// Fills the padded copy of the source (channel groups in order) at the start of `scratch`.
    func padCopy(_ groups: [(UnsafePointer<Float>, Int)], into scratch: UnsafeMutablePointer<Float>, threads T: Int) {
        parallelFor(T, threads: T) { t in
            let r = chunkRange(C, part: t, of: T)
            var c0 = 0
            for (pointer, count) in groups {
                let lo = max(r.lowerBound, c0), hi = min(r.upperBound, c0 + count)
                if lo < hi {
                    mvx_pad_copy(pointer, Int32(lo - c0), Int32(hi - c0), Int32(src[0]), Int32(src[1]), Int32(src[2]),
                                 Int32(pad[0]), Int32(pad[1]), Int32(pad[2]), scratch + c0 * chanPitch, chanPitch)
                }
                c0 += count
            }
        }
    }

    /// Runs the pass for one batch item: `source` [C][src...] -> `output` [M][out...].
    ///
    /// `parts`, when given, replaces `source` by consecutive channel groups (pointer, channels)
    /// whose concatenation is the source: the padded copy is filled from each in turn, or
    /// Winograd and the row kernel read each, so the concatenation is never built (`readsParts`).
    /// `prefilled`, when given, is scratch of `scratchCount(threads:)` floats whose padded copy
    /// `padCopy` has already filled (padded modes only); the source is not read. `inputTransform`
    /// (Winograd only) is a per-channel normalisation and activation the source has not had yet;
    /// `outputStatistics` (Winograd only) receives `[M][2]` sums and sums of squares of the output.
    func run(source: UnsafePointer<Float>, parts: [(UnsafePointer<Float>, Int)]? = nil, prefilled: UnsafeMutablePointer<Float>? = nil,
             inputTransform: PendingNormalization.Channels? = nil, outputStatistics: UnsafeMutablePointer<Double>? = nil,
             packed: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             output: UnsafeMutablePointer<Float>, activation: FusedActivation, threads: Int) {
        precondition(prefilled == nil || usesPadded, "a prefilled copy needs a padded pass")
        precondition(parts == nil || (readsParts && parts!.reduce(0) { $0 + $1.1 } == C), "channel groups need a padded or Winograd pass and must add up to the input channels")
        precondition(inputTransform == nil || mode == .winograd, "a pending normalisation needs a Winograd pass")
        precondition(outputStatistics == nil || mode == .winograd, "output statistics need a Winograd pass")
        let T = max(1, threads)
        let groups = parts ?? [(source, C)]
        let d = outputDescriptor(packed: packed, bias: bias, output: output, activation: activation)
        switch mode {
        case .winograd:
            runWinograd(d, channels: channelBases(groups), inputTransform: inputTransform, outputStatistics: outputStatistics, threads: T)
        case .rows:
            runRows(d, channels: channelBases(groups), threads: T)
        case .direct, .gather, .gatherRaw:
            if mode == .direct, prefilled == nil, outStride == nil, let planes = slabPlanes(threads: T) {
                runDirectSlabs(d, groups: groups, planes: planes, threads: T)
            } else {
                runTiles(d, source: source, groups: groups, prefilled: prefilled, packed: packed, threads: T)
            }
        }
    }

    /// What every mode computes and writes (`mvx_fwd`): kernel blocks, weights, bias and
    /// activation, and the output grid (strided for a transposed convolution's phases).
    func outputDescriptor(packed: UnsafePointer<Float>, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                          activation: FusedActivation) -> mvx_fwd {
        var d = mvx_fwd()
        d.isa = info.isa; d.mr = info.mr; d.nr = info.nr
        d.M = Int32(M); d.C = Int32(C); d.taps = Int32(taps); d.kcc = Int32(kcc)
        d.A = packed
        d.bias = bias
        switch activation {
        case .none: d.act = 0
        case .relu: d.act = 1
        case let .leakyReLU(a): d.act = 2; d.slope = a
        }
        d.out = output
        d.out_plane = outStride == nil ? validCount : fullOut.reduce(1, *)
        d.od = Int32(out[0]); d.oh = Int32(out[1]); d.ow = Int32(out[2])
        if let st = outStride {
            d.ostride = (Int32(st[0]), Int32(st[1]), Int32(st[2]))
            d.ofull = (Int32(fullOut[0]), Int32(fullOut[1]), Int32(fullOut[2]))
        }
        return d
    }

    /// Each source channel's base, wherever its group lives (Winograd and the row kernel read the
    /// channels in place).
    func channelBases(_ groups: [(UnsafePointer<Float>, Int)]) -> [UnsafePointer<Float>?] {
        let plane = src.reduce(1, *)
        return groups.flatMap { g in (0..<g.1).map { g.0 + $0 * plane } }
    }

    /// A zero-padded copy of the source at `padded`, channels `pitch` apart, with its plane and
    /// row pitch and the taps' offsets.
    func paddedSource(_ padded: UnsafePointer<Float>, pitch: Int, tapOffsets: UnsafePointer<Int>) -> mvx_padded {
        let p = self.padded
        return mvx_padded(src: padded, chan_pitch: pitch, pp: p[1] * p[2], rp: p[2], tapoff: tapOffsets)
    }

    /// A direct pass's descriptor over a zero-padded copy.
    func directSource(_ f: mvx_fwd, _ padded: UnsafePointer<Float>, pitch: Int, tapOffsets: UnsafePointer<Int>) -> mvx_fwd_direct {
        mvx_fwd_direct(f: f, s: paddedSource(padded, pitch: pitch, tapOffsets: tapOffsets))
    }

    /// A gathered pass's descriptor over the zero-padded copy at `padded`.
    func gatherSource(_ f: mvx_fwd, _ padded: UnsafePointer<Float>, tapOffsets: UnsafePointer<Int>) -> mvx_fwd_gather {
        mvx_fwd_gather(f: f, s: paddedSource(padded, pitch: chanPitch, tapOffsets: tapOffsets),
                       mul: (Int32(mul[0]), Int32(mul[1]), Int32(mul[2])))
    }

    /// A gathered pass's descriptor over the raw source, with the per-axis index maps.
    func rawSource(_ f: mvx_fwd, _ source: UnsafePointer<Float>) -> mvx_fwd_gather_raw {
        var d = mvx_fwd_gather_raw()
        d.f = f
        d.raw = source
        d.sd = Int32(src[0]); d.sh = Int32(src[1]); d.sw = Int32(src[2])
        d.k = (Int32(kernel[0]), Int32(kernel[1]), Int32(kernel[2]))
        d.mul = (Int32(mul[0]), Int32(mul[1]), Int32(mul[2]))
        d.tmul = (Int32(tmul[0]), Int32(tmul[1]), Int32(tmul[2]))
        d.off = (Int32(off[0]), Int32(off[1]), Int32(off[2]))
        d.div = (Int32(div[0]), Int32(div[1]), Int32(div[2]))
        return d
    }

    /// Direct and gathered tiles (`mvx_fwd_direct_tile`, `mvx_fwd_gather_tile`,
    /// `mvx_fwd_gather_raw_tile`): the padded copy (unless `prefilled`) or the raw source, then for
    /// each phase (one for a plain convolution) every thread computes its range of tiles with its
    /// own accumulator and column slots.
    func runTiles(_ desc: mvx_fwd, source: UnsafePointer<Float>, groups: [(UnsafePointer<Float>, Int)],
                  prefilled: UnsafeMutablePointer<Float>?, packed: UnsafePointer<Float>, threads T: Int) {
        let (_, total, nt, tiles, _, _, _, perThread) = layout(threads: T)
        let padCount = usesPadded ? chanPitch * C : 0
        func body(_ scratch: UnsafeMutablePointer<Float>) {
            if usesPadded && prefilled == nil { padCopy(groups, into: scratch, threads: T) }
            /// Runs `tile(slots, t0, t1)` for every tile, threads taking contiguous ranges.
            func eachTile(_ tile: (Slots, Int, Int) -> Void) {
                parallelFor(T, threads: T) { t in
                    let sl = slots(scratch + padCount + t * perThread, threads: T)
                    for i in chunkRange(tiles, part: t, of: T) {
                        let t0 = i * nt
                        tile(sl, t0, min(total, t0 + nt))
                    }
                }
            }
            tapOffsets.withUnsafeBufferPointer { tapoff in
                for (index, phase) in phases.enumerated() {
                    var f = desc
                    f.A = packed + index * packedCount
                    f.ophase = (Int32(phase[0]), Int32(phase[1]), Int32(phase[2]))
                    switch mode {
                    case .direct:
                        withUnsafePointer(to: directSource(f, scratch, pitch: chanPitch, tapOffsets: tapoff.baseAddress!)) { dp in
                            eachTile { sl, t0, t1 in mvx_fwd_direct_tile(dp, t0, t1, sl.acc, nt, sl.offs) }
                        }
                    case .gather:
                        withUnsafePointer(to: gatherSource(f, scratch, tapOffsets: tapoff.baseAddress!)) { dp in
                            eachTile { sl, t0, t1 in mvx_fwd_gather_tile(dp, t0, t1, sl.acc, nt, sl.col, sl.offs, sl.runs) }
                        }
                    default:
                        withUnsafePointer(to: rawSource(f, source)) { dp in
                            eachTile { sl, t0, t1 in mvx_fwd_gather_raw_tile(dp, t0, t1, sl.acc, nt, sl.col, sl.offs) }
                        }
                    }
                }
            }
        }
        if let prefilled {
            body(prefilled)
        } else {
            ScratchPool.shared.with(padCount + perThread * T, body)
        }
    }
}
