import CMedVoxKernels
import Foundation
import MedVoxCore

/// `n` floats rounded up to a whole number of 64-byte lines, so slots carved from a pooled buffer
/// one after another all start on a line.
@inline(__always) func alignedFloats(_ n: Int) -> Int { (n + 15) & ~15 }

/// Large temporary buffers shared by all plans (padded sources, per-thread tiles), kept for reuse
/// so a network's layers do not each hold their own.
final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool()
    private var free: [(UnsafeMutablePointer<Float>, Int)] = []
    private let lock = NSLock()

    /// Makes sure a buffer of at least `count` floats is idle in the pool, allocating it now. A
    /// network calls this before its first layer with the largest request it will make, so that
    /// buffer sits below the activations in the heap instead of being carved out at the peak
    /// between them (where the holes it leaves add to the peak).
    func reserve(_ count: Int) { checkin(checkout(count)) }

    /// Runs `body` with a buffer of at least `count` floats (contents undefined).
    func with<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let buf = checkout(count)
        defer { checkin(buf) }
        return try body(buf.0)
    }

    /// Takes a buffer of at least `count` floats out of the pool (give it back with `checkin`).
    func checkout(_ count: Int) -> (UnsafeMutablePointer<Float>, Int) {
        let need = max(count, 16)
        lock.lock()
        defer { lock.unlock() }
        if let i = free.indices.filter({ free[$0].1 >= need }).min(by: { free[$0].1 < free[$1].1 }) {
            return free.remove(at: i)
        }
        // The idle buffers are all too small: release them before allocating, so they do not
        // add to the peak (the new one serves every smaller request afterwards).
        for b in free { UnsafeMutableRawPointer(b.0).deallocate() }
        free.removeAll()
        // 64-byte aligned, as the kernels' slots within it are: their vector rows then never
        // straddle two cache lines (at a 16-byte offset 256→256 @8³ ran 4.5–5.0 ms, not 3.3–3.6).
        let raw = UnsafeMutableRawPointer.allocate(byteCount: need * MemoryLayout<Float>.stride, alignment: 64)
        let buf = (raw.bindMemory(to: Float.self, capacity: need), need)
        adviseHugePages(buf.0, count: need)
        return buf
    }

    /// Returns a buffer from `checkout`.
    func checkin(_ buf: (UnsafeMutablePointer<Float>, Int)) {
        lock.lock()
        defer { lock.unlock() }
        free.append(buf)
        // Keep a bounded number of buffers: drop the smallest beyond four.
        if free.count > 4 {
            free.sort { $0.1 > $1.1 }
            for b in free[4...] { UnsafeMutableRawPointer(b.0).deallocate() }
            free.removeLast(free.count - 4)
        }
    }
}

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

    /// Direct tiles waste the padded grid's margins; gathered tiles copy K rows per tile and run
    /// their micro-kernels from a larger footprint. Direct needs stride 1 (`possible`).
    static func chooseDirect(possible: Bool, span: Int, valid: Int, M: Int, forceDirect: Bool?) -> Bool {
        guard possible else { return false }
        if let f = forceDirect { return f }
        // Measured on Zen 4 (CPU time): direct and gathered tie at ~13% waste (64→64 @32³), gathered
        // wins beyond (128→128 @16³: 77% vs 70% of peak).
        return Double(span) / Double(valid) <= 1.15
    }

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
            // slot, offsets [C].
            let total = mvx_wino_tiles(Int32(out[0]), Int32(out[1]), Int32(out[2]))
            // A multiple of the transforms' 16 lanes (AVX2: nr 24); a small grid in one block (its
            // threads then share the output channels, and each streams its weights once), of at
            // most 256 tiles (the transforms' 16 lane groups; one-row kernels' unit is 192).
            let unit = nr % 16 == 0 ? nr : 2 * nr
            let whole = (total + unit - 1) / unit * unit
            let nt = total <= 2 * unit && whole <= 256 ? whole : unit
            let colCount = max(points * (C * nt + 16), C * (points * nt + 16))
            return (mpad, total, nt, (total + nt - 1) / nt, C, colCount, 0, alignedFloats(mpad * (points * nt + 16) + colCount + 2 * C))
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

    /// A thread's tile scratch from `base` (`layout(threads:).perThread` floats): accumulators, the
    /// column tile (Winograd: its transformed inputs V), K offsets and runs.
    func slots(_ base: UnsafeMutablePointer<Float>, threads T: Int) -> (acc: UnsafeMutablePointer<Float>, col: UnsafeMutablePointer<Float>,
                                                                        offs: UnsafeMutablePointer<Int>, runs: UnsafeMutablePointer<Int>) {
        let (mpad, _, nt, _, kmax, colCount, runsCount, _) = layout(threads: T)
        let col = base + (mode == .winograd ? mpad * (points * nt + 16) : mpad * nt)
        return (base, col, UnsafeMutableRawPointer(col + colCount).bindMemory(to: Int.self, capacity: kmax),
                UnsafeMutableRawPointer(col + colCount + 2 * kmax).bindMemory(to: Int.self, capacity: runsCount))
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

    /// `parts`, when given, replaces `source` by consecutive channel groups (pointer, channels)
    /// whose concatenation is the source: the padded copy is filled from each in turn, or
    /// Winograd reads each, so the concatenation is never built (`readsParts`). `prefilled`, when
    /// given, is scratch of `scratchCount(threads:)` floats whose padded copy `padCopy` has
    /// already filled (padded modes only); the source is not read. `inputTransform` (Winograd
    /// only) is a per-channel normalisation and activation the source has not had yet.
    func run(source: UnsafePointer<Float>, parts: [(UnsafePointer<Float>, Int)]? = nil, prefilled: UnsafeMutablePointer<Float>? = nil,
             inputTransform: PendingNormalization.Channels? = nil, outputStatistics: UnsafeMutablePointer<Double>? = nil,
             packed: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             output: UnsafeMutablePointer<Float>, activation: FusedActivation, threads: Int) {
        precondition(prefilled == nil || usesPadded, "a prefilled copy needs a padded pass")
        precondition(parts == nil || (readsParts && parts!.reduce(0) { $0 + $1.1 } == C), "channel groups need a padded or Winograd pass and must add up to the input channels")
        precondition(inputTransform == nil || mode == .winograd, "a pending normalisation needs a Winograd pass")
        precondition(outputStatistics == nil || mode == .winograd, "output statistics need a Winograd pass")
        let T = max(1, threads)
        let (mpad, total, nt, tiles, _, _, _, perThread) = layout(threads: T)
        // Winograd blocks' output sums (per block and channel), added in block order at the end.
        var blockStats = [Double](repeating: 0, count: outputStatistics == nil ? 0 : tiles * M * 2)
        defer {
            if let outputStatistics {
                outputStatistics.update(repeating: 0, count: M * 2)
                for b in 0..<blockStats.count / (M * 2) {
                    for i in 0..<(M * 2) { outputStatistics[i] += blockStats[b * M * 2 + i] }
                }
            }
        }
        var d = mvx_fwd()
        d.isa = info.isa; d.mr = info.mr; d.nr = info.nr
        d.direct = mode == .direct ? 1 : 0
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
        if mode == .direct, prefilled == nil, outStride == nil, let planes = slabPlanes(threads: T) {
            runDirectSlabs(d, groups: parts ?? [(source, C)], planes: planes, threads: T)
            return
        }
        let offsets = tapOffsets
        let padCount = usesPadded ? chanPitch * C : 0
        // Winograd: each channel's base, wherever its group lives.
        let plane = src.reduce(1, *)
        let channels: [UnsafePointer<Float>?] = mode != .winograd && mode != .rows ? [] : (parts ?? [(source, C)]).flatMap { g in
            (0..<g.1).map { g.0 + $0 * plane }
        }
        func body(_ scratch: UnsafeMutablePointer<Float>) {
            offsets.withUnsafeBufferPointer { tapoff in
              channels.withUnsafeBufferPointer { chan in
              (inputTransform?.scale ?? []).withUnsafeBufferPointer { scale in
              (inputTransform?.shift ?? []).withUnsafeBufferPointer { shift in
              blockStats.withUnsafeMutableBufferPointer { stats in
                if mode == .rows {
                    d.chan = chan.baseAddress
                } else if mode == .winograd {
                    d.k = (Int32(kernel[0]), Int32(kernel[1]), Int32(kernel[2]))
                    d.chan = chan.baseAddress
                    d.ostats = outputStatistics == nil ? nil : stats.baseAddress  // (an empty array's may be non-nil)
                    if let t = inputTransform {
                        d.in_scale = scale.baseAddress
                        d.in_shift = shift.baseAddress
                        d.in_leaky = t.leakySlope == nil ? 0 : 1
                        d.in_slope = t.leakySlope ?? 0
                    }
                } else if usesPadded {
                    let p = padded
                    if prefilled == nil { padCopy(parts ?? [(source, C)], into: scratch, threads: T) }
                    d.src = UnsafePointer(scratch)
                    d.chan_pitch = chanPitch
                    d.pp = p[1] * p[2]
                    d.rp = p[2]
                    d.tapoff = tapoff.baseAddress
                    d.mul = (Int32(mul[0]), Int32(mul[1]), Int32(mul[2]))
                } else {
                    d.raw = source
                    d.sd = Int32(src[0]); d.sh = Int32(src[1]); d.sw = Int32(src[2])
                    d.k = (Int32(kernel[0]), Int32(kernel[1]), Int32(kernel[2]))
                    d.mul = (Int32(mul[0]), Int32(mul[1]), Int32(mul[2]))
                    d.tmul = (Int32(tmul[0]), Int32(tmul[1]), Int32(tmul[2]))
                    d.off = (Int32(off[0]), Int32(off[1]), Int32(off[2]))
                    d.div = (Int32(div[0]), Int32(div[1]), Int32(div[2]))
                }
                for (index, phase) in phases.enumerated() {
                d.A = packed + index * packedCount
                d.ophase = (Int32(phase[0]), Int32(phase[1]), Int32(phase[2]))
                let desc = d
                withUnsafePointer(to: desc) { dp in
                    func slots(_ t: Int) -> (acc: UnsafeMutablePointer<Float>, col: UnsafeMutablePointer<Float>,
                                             offs: UnsafeMutablePointer<Int>, runs: UnsafeMutablePointer<Int>) {
                        self.slots(scratch + padCount + t * perThread, threads: T)
                    }
                    if mode == .winograd && tiles < T {
                        // Fewer blocks than threads: per block, the threads first transform some
                        // input channels each into one shared V, then compute some output channels
                        // each from it (the same sums, whoever computes them).
                        let mr = Int(info.mr), shared = slots(0).col
                        for tile in 0..<tiles {
                            let t0 = tile * nt, t1 = min(total, t0 + nt)
                            parallelFor(T, threads: T) { t in
                                let r = chunkRange(C, part: t, of: T), sl = slots(t)
                                if !r.isEmpty { mvx_wino_block(dp, t0, t1, nt, r.lowerBound, r.upperBound, 0, 0, shared, sl.acc, sl.offs) }
                            }
                            parallelFor(T, threads: T) { t in
                                let r = chunkRange(mpad / mr, part: t, of: T), sl = slots(t)
                                if !r.isEmpty {
                                    mvx_wino_block(dp, t0, t1, nt, 0, 0, r.lowerBound * mr, r.upperBound * mr, shared, sl.acc, sl.offs)
                                }
                            }
                        }
                        return
                    }
                    if mode == .rows {
                        // Threads take ranges of planes (each walks its planes band by band) or,
                        // with fewer than two planes per thread (2D), (plane, rows) units whose
                        // rows start at multiples of the kernel's 4-row blocks.
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
                        return
                    }
                    parallelFor(T, threads: T) { t in
                        let sl = slots(t)
                        for tile in chunkRange(tiles, part: t, of: T) {
                            let t0 = tile * nt
                            if mode == .winograd {
                                mvx_wino_block(dp, t0, min(total, t0 + nt), nt, 0, C, 0, mpad, sl.col, sl.acc, sl.offs)
                            } else {
                                mvx_fwd_tile(dp, t0, min(total, t0 + nt), sl.acc, nt, sl.col, sl.offs, sl.runs)
                            }
                        }
                    }
                }
                }
              }
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

extension FastPass {
    /// Output planes per slab when a direct pass should pad its source a slab at a time (a padded
    /// copy of more than `KernelSettings.slabFloats`, read back from memory, costs more than copying
    /// each slab's planes, halo included, into a per-thread buffer that stays in cache: 1→16
    /// @128³ backward-data went 38–45 → 30–33 ms, before the row kernel took that pass over; large
    /// direct passes it does not serve still run so); nil otherwise.
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
                    let (acc, col, offs, runs) = slots(slab + C * slabPitch, threads: T)
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
                        var d = desc
                        d.src = UnsafePointer(slab)
                        d.chan_pitch = slabPitch
                        d.pp = pp
                        d.rp = rp
                        d.tapoff = tapoff.baseAddress
                        d.mul = (Int32(mul[0]), Int32(mul[1]), Int32(mul[2]))
                        d.od = Int32(z1 - z0)
                        d.out = desc.out + z0 * out[1] * out[2]
                        let span = ((z1 - z0 - 1) * pp + (out[1] - 1) * rp) + out[2]
                        withUnsafePointer(to: d) { dp in
                            var t0 = 0
                            while t0 < span {
                                mvx_fwd_tile(dp, t0, min(span, t0 + nt), acc, nt, col, offs, runs)
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

extension ConvPlan {
    /// One-row kernels for passes with very few output channels, where mr-row blocks would
    /// mostly compute zeros.
    static func kernelInfo(_ info: mvx_isa_info, outputChannels M: Int) -> mvx_isa_info {
        M * 4 <= Int(info.mr) ? mvx_isa_info_narrow(info.isa) : info
    }

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

    /// Whether the single-output-channel row kernel serves a pass (`FastPass.Mode.rows`): one output
    /// channel (one-row weights), kd×3×3 taps with kd odd, stride and dilation 1, padding that keeps
    /// the grid ((kd-1)/2, 1, 1), a grid of 4+ rows of 32+ (AVX-512), and no forced tile kind.
    /// Measured, 1→16 @128³ backward-data: 30–33 ms on the one-row tiles of a slab-wise padded copy,
    /// 15–21 ms here.
    static func rowsFit(M: Int, kernel: [Int], stride: [Int], dilation: [Int], pad: [Int], src: [Int], out: [Int],
                        info: mvx_isa_info, settings: KernelSettings) -> Bool {
        M == 1 && info.mr == 1 && kernel[1] == 3 && kernel[2] == 3 && kernel[0] % 2 == 1 && pad == [(kernel[0] - 1) / 2, 1, 1]
            && stride == [1, 1, 1] && dilation == [1, 1, 1] && src == out && settings.forceDirect == nil
            && mvx_rows1_fits(info.isa, Int32(out[1]), Int32(out[2])) != 0
    }

    /// The micro-kernel of a Winograd pass over the `grid` output: 12 channels × 32 tiles (AVX-512)
    /// when there are at most 64 tiles (an 8³ grid fills 64 lanes rather than 96 of 48-wide
    /// blocks), else the usual one.
    static func winogradInfo(_ info: mvx_isa_info, grid: [Int]) -> mvx_isa_info {
        guard info.mr > 1, mvx_wino_tiles(Int32(grid[0]), Int32(grid[1]), Int32(grid[2])) <= 64 else { return info }
        return mvx_isa_info_short(info.isa)
    }

    /// The forward pass as a FastPass (`winograd: false`: a direct or gathered pass only, as
    /// backward-weights reads its geometry).
    static func forwardPass(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings, winograd: Bool = true) -> FastPass {
        let info = kernelInfo(info, outputChannels: s.co)
        if winograd, winogradFits(kernel: s.kernel, stride: s.stride, dilation: s.dilation, padding: s.padding,
                                  depth: s.input[0], C: s.ci, M: s.co, info: info, settings: settings) {
            return FastPass(
                mode: .winograd, info: winogradInfo(info, grid: s.output), settings: settings, M: s.co, C: s.ci, taps: s.taps, kcc: s.ci,
                src: s.input, pad: s.padding, out: s.output, kernel: s.kernel, dilation: s.dilation, mul: s.stride,
                tmul: s.dilation, off: s.padding.map { -$0 }, div: [1, 1, 1])
        }
        if winograd, rowsFit(M: s.co, kernel: s.kernel, stride: s.stride, dilation: s.dilation, pad: s.padding, src: s.input,
                             out: s.output, info: info, settings: settings) {
            return FastPass(
                mode: .rows, info: info, settings: settings, M: 1, C: s.ci, taps: s.taps, kcc: FastPass.channelsPerChunk(s.ci, taps: s.taps, direct: true),
                src: s.input, pad: s.padding, out: s.output, kernel: s.kernel, dilation: s.dilation, mul: s.stride,
                tmul: s.dilation, off: s.padding.map { -$0 }, div: [1, 1, 1])
        }
        let stride1 = s.stride.allSatisfy { $0 == 1 }
        let padded = (0..<3).map { s.input[$0] + 2 * s.padding[$0] }
        let span = ((s.output[0] - 1) * padded[1] + (s.output[1] - 1)) * padded[2] + s.output[2]
        let direct = FastPass.chooseDirect(possible: stride1, span: span, valid: s.outPlane, M: s.co, forceDirect: settings.forceDirect)
        return FastPass(
            mode: direct ? .direct : .gather, info: info, settings: settings, M: s.co, C: s.ci, taps: s.taps,
            kcc: FastPass.channelsPerChunk(s.ci, taps: s.taps, direct: direct), src: s.input, pad: s.padding, out: s.output,
            kernel: s.kernel, dilation: s.dilation, mul: s.stride, tmul: s.dilation, off: s.padding.map { -$0 },
            div: [1, 1, 1])
    }

    /// Backward-data as a forward pass over the output gradient: direct (a correlation with the
    /// flipped kernel and padding d(k-1)-p) for stride 1, gathered otherwise.
    static func backwardDataPass(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass {
        let info = kernelInfo(info, outputChannels: s.ci)
        if s.stride == s.kernel, s.stride.contains(where: { $0 > 1 }), s.padding.allSatisfy({ $0 == 0 }),
            s.dilation.allSatisfy({ $0 == 1 }), settings.forceDirect != false
        {
            // Transposed convolution as U-Nets use it (kernel = stride): one 1×1 product per phase.
            var p = FastPass(
                mode: .direct, info: info, settings: settings, M: s.ci, C: s.co, taps: 1,
                kcc: FastPass.channelsPerChunk(s.co, taps: 1, direct: true), src: s.output, pad: [0, 0, 0],
                out: s.output, kernel: [1, 1, 1], dilation: [1, 1, 1], mul: [1, 1, 1], tmul: [1, 1, 1],
                off: [0, 0, 0], div: [1, 1, 1])
            p.outStride = s.stride
            p.fullOut = s.input
            return p
        }
        if winogradFits(kernel: s.kernel, stride: s.stride, dilation: s.dilation, padding: s.padding,
                        depth: s.output[0], C: s.co, M: s.ci, info: info, settings: settings) {
            // Padding d(k-1)-p = 1: the same geometry over the output gradient.
            return FastPass(
                mode: .winograd, info: winogradInfo(info, grid: s.input), settings: settings, M: s.ci, C: s.co, taps: s.taps, kcc: s.co,
                src: s.output, pad: s.padding, out: s.input, kernel: s.kernel, dilation: s.dilation, mul: [1, 1, 1],
                tmul: [1, 1, 1], off: [-1, -1, -1], div: [1, 1, 1])
        }
        let pad2 = (0..<3).map { s.dilation[$0] * (s.kernel[$0] - 1) - s.padding[$0] }
        if rowsFit(M: s.ci, kernel: s.kernel, stride: s.stride, dilation: s.dilation, pad: pad2, src: s.output, out: s.input, info: info, settings: settings) {
            return FastPass(
                mode: .rows, info: info, settings: settings, M: 1, C: s.co, taps: s.taps, kcc: FastPass.channelsPerChunk(s.co, taps: s.taps, direct: true),
                src: s.output, pad: pad2, out: s.input, kernel: s.kernel, dilation: s.dilation, mul: [1, 1, 1],
                tmul: s.dilation.map { -$0 }, off: s.padding, div: s.stride)
        }
        let possible = s.stride.allSatisfy { $0 == 1 } && pad2.allSatisfy { $0 >= 0 }
        let padded = (0..<3).map { s.output[$0] + 2 * max(0, pad2[$0]) }
        let span = ((s.input[0] - 1) * padded[1] + (s.input[1] - 1)) * padded[2] + s.input[2]
        let direct = FastPass.chooseDirect(possible: possible, span: span, valid: s.inPlane, M: s.ci, forceDirect: settings.forceDirect)
        return FastPass(
            mode: direct ? .direct : possible ? .gather : .gatherRaw, info: info, settings: settings, M: s.ci, C: s.co, taps: s.taps,
            kcc: FastPass.channelsPerChunk(s.co, taps: s.taps, direct: direct), src: s.output, pad: pad2.map { max(0, $0) },
            out: s.input, kernel: s.kernel, dilation: s.dilation, mul: [1, 1, 1], tmul: s.dilation.map { -$0 },
            off: s.padding, div: s.stride)
    }

    /// Backward-weights over all batch items; see `Conv.backwardWeights`.
    func fastBackwardWeights(
        input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
        gradBias: UnsafeMutablePointer<Float>?, threads: Int
    ) {
        if winogradWeights {
            winogradBackwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, threads: threads)
            if let gradBias { biasGradient(gradOutput, gradBias, threads: threads) }
        } else {
            directBackwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, threads: threads)
        }
    }

    /// Whether backward-weights runs as Winograd: with a Winograd forward and 64 channels or more
    /// each way, where its products outweigh its transforms (measured against the direct pass:
    /// 256→256 @8³ 12.9 → 8.3 ms, 128→128 @16³ 15.3 → 11.3–12.2 ms, 64→64 @32³ 32 → 28–32 ms;
    /// 32→32 @64³ 83 → 112 ms and 16→16 @128³ 181 → 652 ms, several times slower), or when forced.
    var winogradWeights: Bool {
        guard forwardPass.mode == .winograd, s.kernel[0] == 3 else { return false }
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
    /// thread, or with several chunks 64·Cout·Cin doubles (Cin rounded up to 8).
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
        let extra = chunks == 1 ? 64 * (Mpad + Cpad) * chunk + T * 64 * step * Cpad : T * (Mpad * (chunk + Cpad) + chunk * Cpad)
        var dU = [Double](repeating: 0, count: chunks > 1 ? 64 * M * ((C + 7) / 8 * 8) : 0)
        var d = mvx_fwd()
        d.isa = info.isa; d.M = Int32(M); d.C = Int32(C)
        d.k = (3, 3, 3)
        d.od = Int32(s.output[0]); d.oh = Int32(s.output[1]); d.ow = Int32(s.output[2])
        let plane = s.inPlane
        ScratchPool.shared.with(64 * (C + M) * chunk + extra) { scratch in
            let V = scratch, GY = scratch + 64 * C * chunk, rest = GY + 64 * M * chunk
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
                                                           max(r.lowerBound - C, 0), max(r.upperBound - C, 0), V, vx, vc, GY, gx, gm)
                                }
                                if chunks == 1 {
                                    let GA = rest, VT = GA + 64 * Mpad * chunk, P = VT + 64 * chunk * Cpad
                                    parallelFor(T, threads: T) { t in
                                        let r = chunkRange(64, part: t, of: T)
                                        mvx_wino_bww_pack(k.isa, M, C, L, Int32(mr), Cpad, GY, gx, gm, V, vx, vc, r.lowerBound,
                                                          r.upperBound, GA, VT)
                                    }
                                    parallelFor(T, threads: T) { t in
                                        let r = chunkRange(blocks, part: t, of: T)
                                        for r0 in stride(from: r.lowerBound * mr, to: r.upperBound * mr, by: step) {
                                            mvx_wino_bww_gemm(k.isa, Int32(mr), Int32(nr), M, C, L, Cpad, GA, VT, r0,
                                                              min(r0 + step, r.upperBound * mr), P + t * 64 * step * Cpad, gradWeight)
                                        }
                                    }
                                } else {
                                    let first = Int32(index == 0 ? 1 : 0)
                                    parallelFor(T, threads: T) { t in
                                        let r = chunkRange(64, part: t, of: T)
                                        mvx_wino_bww_points(k.isa, Int32(mr), Int32(nr), M, C, L, Cpad, GY, gx, gm, V, vx, vc,
                                                            r.lowerBound, r.upperBound, rest + t * (Mpad * (chunk + Cpad) + chunk * Cpad),
                                                            du.baseAddress, first)
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

    /// The direct or gathered backward-weights, with the bias gradient summed from the output
    /// gradient rows its products read (one pass over that gradient, not two: 1→16 @128³ reads
    /// 134 MB once).
    func directBackwardWeights(
        input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
        gradBias: UnsafeMutablePointer<Float>?, threads: Int
    ) {
        let T = max(1, threads)
        let fp = Self.forwardPass(s, info: info, settings: settings, winograd: false)  // same source geometry and direct/gather choice
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
