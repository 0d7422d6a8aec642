import MedVoxCore
import MedVoxTestSupport
import XCTest

@testable import MedVoxTensor

/// Random data for a convolution case, drawn from a seeded generator.
struct ConvCase {
    let g: ConvGeometry
    var input: [Float], weight: [Float], bias: [Float], gradOutput: [Float]

    init(_ g: ConvGeometry, seed: UInt64) {
        self.g = g
        var rng = SeededGenerator(seed: seed)
        func draw(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.uniform(-1, 1)) } }
        input = draw(g.inputCount)
        weight = draw(g.weightCount)
        bias = draw(g.outChannels)
        gradOutput = draw(g.outputCount)
    }

    func forward(activation: FusedActivation = .none, threads: Int, reference: Bool = false) -> [Float] {
        var out = [Float](repeating: .nan, count: g.outputCount)
        input.withUnsafeBufferPointer { x in weight.withUnsafeBufferPointer { w in bias.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { y in
                if reference {
                    ConvReference.forward(g, input: x.baseAddress!, weight: w.baseAddress!, bias: b.baseAddress!,
                                          output: y.baseAddress!, activation: activation, threads: 2)
                } else {
                    Conv.forward(g, input: x.baseAddress!, weight: w.baseAddress!, bias: b.baseAddress!,
                                 output: y.baseAddress!, activation: activation, threads: threads)
                }
            }
        } } }
        return out
    }

    func backwardData(threads: Int, reference: Bool = false) -> [Float] {
        var gin = [Float](repeating: .nan, count: g.inputCount)
        gradOutput.withUnsafeBufferPointer { gy in weight.withUnsafeBufferPointer { w in
            gin.withUnsafeMutableBufferPointer { gx in
                if reference {
                    ConvReference.backwardData(g, gradOutput: gy.baseAddress!, weight: w.baseAddress!, gradInput: gx.baseAddress!, threads: 2)
                } else {
                    Conv.backwardData(g, gradOutput: gy.baseAddress!, weight: w.baseAddress!, gradInput: gx.baseAddress!, threads: threads)
                }
            }
        } }
        return gin
    }

    func backwardWeights(threads: Int, reference: Bool = false) -> (gw: [Float], gb: [Float]) {
        var gw = [Float](repeating: .nan, count: g.weightCount)
        var gb = [Float](repeating: .nan, count: g.outChannels)
        input.withUnsafeBufferPointer { x in gradOutput.withUnsafeBufferPointer { gy in
            gw.withUnsafeMutableBufferPointer { gwp in gb.withUnsafeMutableBufferPointer { gbp in
                if reference {
                    ConvReference.backwardWeights(g, input: x.baseAddress!, gradOutput: gy.baseAddress!,
                                                  gradWeight: gwp.baseAddress!, gradBias: gbp.baseAddress!, threads: 2)
                } else {
                    Conv.backwardWeights(g, input: x.baseAddress!, gradOutput: gy.baseAddress!,
                                         gradWeight: gwp.baseAddress!, gradBias: gbp.baseAddress!, threads: threads)
                }
            } }
        } }
        return (gw, gb)
    }
}

/// Max |a - b| / max(1e-6, max|b|): error relative to the reference's scale; +∞ when either
/// operand holds a NaN or an infinity (see `maxAbsError`).
func scaledError(_ a: [Float], _ b: [Float]) -> Double {
    let error = maxAbsError(a, b)
    guard error.isFinite else { return .infinity }
    return error / max(1e-6, maxAbsError(b, [Float](repeating: 0, count: b.count)))
}

func geometry(_ n: Int, _ ci: Int, _ co: Int, _ size: [Int], k: [Int], s: [Int]? = nil, p: [Int]? = nil, d: [Int]? = nil) -> ConvGeometry {
    let r = size.count
    return try! ConvGeometry(batch: n, inChannels: ci, outChannels: co, inputSize: size, kernel: k,
                             stride: s ?? Array(repeating: 1, count: r), padding: p ?? Array(repeating: 0, count: r),
                             dilation: d ?? Array(repeating: 1, count: r))
}

final class ConvTests: XCTestCase {
    override class func tearDown() {
        ISACoverage.report("ConvTests")
        super.tearDown()
    }

    func testGeometryOutputSizeAndValidation() throws {
        let g = geometry(1, 2, 3, [7, 8, 9], k: [3, 3, 3], s: [2, 1, 1], p: [1, 0, 2], d: [1, 2, 1])
        XCTAssertEqual(g.outputSize, [4, 4, 11])
        XCTAssertThrowsError(try ConvGeometry(batch: 1, inChannels: 1, outChannels: 1, inputSize: [4, 4], kernel: [3, 3, 3],
                                              stride: [1, 1], padding: [0, 0], dilation: [1, 1]))
        XCTAssertThrowsError(try ConvGeometry(batch: 1, inChannels: 1, outChannels: 1, inputSize: [2, 2], kernel: [5, 3],
                                              stride: [1, 1], padding: [1, 0], dilation: [1, 1]))
        XCTAssertThrowsError(try ConvGeometry(batch: 1, inChannels: 0, outChannels: 1, inputSize: [4, 4], kernel: [3, 3],
                                              stride: [1, 1], padding: [0, 0], dilation: [1, 1]))
        XCTAssertThrowsError(try ConvGeometry(batch: 1, inChannels: 1, outChannels: 1, inputSize: [4, 4], kernel: [3, 3],
                                              stride: [0, 1], padding: [0, 0], dilation: [1, 1]))
        XCTAssertThrowsError(try ConvGeometry(batch: 1, inChannels: 1, outChannels: 1, inputSize: [1 << 29, 1 << 29], kernel: [1, 1],
                                              stride: [1, 1], padding: [0, 0], dilation: [1, 1]))
    }

    /// A 1-channel 3×3 input, 2×2 kernel, padding 1, stride 2, worked by hand.
    func testHandComputedForward() {
        let g = geometry(1, 1, 1, [3, 3], k: [2, 2], s: [2, 2], p: [1, 1])
        XCTAssertEqual(g.outputSize, [2, 2])
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let w: [Float] = [1, 10, 100, 1000]
        let b: [Float] = [0.5]
        // out[0,0] taps in (-1,-1),(−1,0),(0,−1),(0,0) -> only x[0,0]=1 × w[1,1]=1000
        // out[0,1] taps rows -1,0 cols 1,2 -> x[0,1]=2×100 + x[0,2]=3×1000
        // out[1,0] rows 1,2 cols -1,0 -> x[1,0]=4×10 + x[2,0]=7×1000
        // out[1,1] rows 1,2 cols 1,2 -> 5×1 + 6×10 + 8×100 + 9×1000
        let expected: [Float] = [1000.5, 3200.5, 7040.5, 9865.5]
        for reference in [true, false] {
            var y = [Float](repeating: 0, count: 4)
            if reference {
                ConvReference.forward(g, input: x, weight: w, bias: b, output: &y)
            } else {
                Conv.forward(g, input: x, weight: w, bias: b, output: &y, threads: 1)
            }
            XCTAssertEqual(y, expected, "reference: \(reference)")
        }
    }

    /// Backward passes are the adjoints of the forward pass: <y', conv(x)> = <convᵀ(y'), x> = <∂w, w>.
    func testReferenceBackwardIsTheAdjointOfForward() {
        let shapes = [
            geometry(2, 3, 2, [5, 6, 7], k: [3, 2, 3], s: [2, 1, 2], p: [1, 0, 2], d: [1, 2, 1]),
            geometry(1, 2, 3, [9, 8], k: [3, 3], s: [2, 2], p: [1, 1]),
            geometry(1, 1, 1, [6, 5, 4], k: [2, 2, 2], s: [2, 2, 2]),
        ]
        for (i, g) in shapes.enumerated() {
            var c = ConvCase(g, seed: UInt64(i))
            c.bias = [Float](repeating: 0, count: g.outChannels)
            let y = c.forward(threads: 1, reference: true)
            let gx = c.backwardData(threads: 1, reference: true)
            let (gw, gb) = c.backwardWeights(threads: 1, reference: true)
            func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
            let lhs = dot(c.gradOutput, y)
            XCTAssertEqual(lhs, dot(gx, c.input), accuracy: 1e-4 * max(1, abs(lhs)), "\(g)")
            XCTAssertEqual(lhs, dot(gw, c.weight), accuracy: 1e-4 * max(1, abs(lhs)), "\(g)")
            // The bias gradient is the sum of the output gradient per channel.
            let per = g.outputCount / g.batch / g.outChannels
            for co in 0..<g.outChannels {
                var s = 0.0
                for n in 0..<g.batch { for i in 0..<per { s += Double(c.gradOutput[(n * g.outChannels + co) * per + i]) } }
                XCTAssertEqual(Double(gb[co]), s, accuracy: 1e-4)
            }
        }
    }

    /// The swept shapes the fast kernels are checked on: odd sizes, stride 2, padding 0–3,
    /// dilation 2, kernel 1–7 per axis, 1 and 3 channels, 2D and 3D, batch 2.
    static var sweep: [ConvGeometry] {
        var out: [ConvGeometry] = [
            geometry(1, 1, 1, [5, 7], k: [1, 1]),
            geometry(2, 3, 5, [9, 11], k: [3, 3], p: [1, 1]),
            geometry(1, 3, 17, [13, 10], k: [7, 5], s: [2, 1], p: [3, 2]),
            geometry(2, 1, 3, [12, 9], k: [3, 3], s: [2, 2], p: [0, 1], d: [2, 2]),
            geometry(1, 4, 2, [8, 8], k: [2, 2], s: [2, 2]),
            geometry(1, 20, 9, [6, 7], k: [3, 3], p: [3, 3]),
            geometry(1, 1, 16, [9, 10, 11], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(2, 3, 4, [7, 6, 5], k: [3, 3, 3], s: [2, 2, 2], p: [1, 1, 1]),
            geometry(1, 3, 3, [8, 9, 7], k: [1, 3, 5], p: [0, 1, 2], d: [1, 2, 1]),
            geometry(1, 16, 16, [6, 6, 6], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(1, 5, 7, [5, 9, 6], k: [2, 2, 2], s: [2, 2, 2]),
            geometry(2, 2, 3, [11, 5, 7], k: [5, 1, 3], s: [1, 2, 1], p: [2, 0, 3], d: [2, 1, 1]),
            geometry(1, 3, 1, [4, 4, 4], k: [2, 3, 2], s: [1, 1, 2], p: [0, 2, 1]),
            geometry(1, 35, 19, [5, 4, 6], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(1, 1, 2, [2, 4, 2], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(1, 4, 3, [1, 2, 1], k: [3, 3, 3], p: [1, 1, 1]),
            // Winograd tiles: odd sizes (a partial last tile per axis), rows of more than 16 tiles
            // (the stride-2 lane groups), blocks spanning rows and planes, batch 2.
            geometry(2, 17, 20, [7, 5, 9], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(1, 3, 9, [3, 5, 37], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(1, 16, 24, [2, 3, 64], k: [3, 3, 3], p: [1, 1, 1]),
            // One output channel on rows of 32+ (the row kernel, AVX-512): backward-data of a
            // 1-channel input and a forward to one channel, rows and widths not multiples of its
            // blocks, batch 2, and 2D.
            geometry(1, 1, 3, [5, 6, 70], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(2, 4, 1, [4, 5, 33], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(1, 1, 2, [9, 40], k: [3, 3], p: [1, 1]),
        ]
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<10 {
            let r = rng.bernoulli(0.5) ? 3 : 2
            var size = [Int](), k = [Int](), s = [Int](), p = [Int](), d = [Int]()
            for _ in 0..<r {
                k.append(rng.int(in: 1...(r == 3 ? 5 : 7)))
                s.append(rng.int(in: 1...2))
                d.append(rng.int(in: 1...2))
                p.append(rng.int(in: 0...3))
                size.append(max(rng.int(in: 1...(r == 3 ? 9 : 17)), d.last! * (k.last! - 1) + 1 - 2 * p.last!))
            }
            out.append(geometry(rng.int(in: 1...2), [1, 3, rng.int(in: 2...12)].randomElement(using: &rng)!,
                                [1, 3, rng.int(in: 2...20)].randomElement(using: &rng)!, size, k: k, s: s, p: p, d: d))
        }
        return out
    }

    /// Every kernel configuration this CPU runs: each instruction set up to the best, with passes
    /// chosen by cost, forced direct and forced gathered (Winograd off), forced direct padding a
    /// slab of planes at a time, Winograd forced wherever it applies, and the plain loops.
    static var configurations: [KernelSettings] {
        KernelSettings.ISA.allCases.filter { $0 <= KernelSettings.best }.flatMap { isa in
            [KernelSettings(isa: isa), KernelSettings(isa: isa, forceDirect: true, winograd: false),
             KernelSettings(isa: isa, forceDirect: false, winograd: false),
             KernelSettings(isa: isa, forceDirect: true, winograd: false, slabFloats: 0), KernelSettings(isa: isa, winograd: true)]
        } + [KernelSettings(reference: true)]
    }

    func withEachConfiguration(_ body: (String) -> Void) {
        let saved = KernelSettings.current
        defer { KernelSettings.current = saved }
        for c in Self.configurations {
            KernelSettings.current = c
            if !c.reference { ISACoverage.record(ConvPlan(geometry(1, 1, 1, [5, 7], k: [1, 1])).isa, in: "ConvTests") }
            body("isa \(c.isa) direct \(c.forceDirect.map { "\($0)" } ?? "auto") winograd \(c.winograd.map { "\($0)" } ?? "auto") slabs \(c.slabFloats == 0) fast \(!c.reference)")
        }
    }

    /// The comparison every kernel test uses fails on a NaN or an infinity on either side.
    func testScaledErrorIsInfiniteOnNonFiniteValues() {
        XCTAssertEqual(scaledError([1, 2.5], [1, 2.5]), 0)
        XCTAssertEqual(scaledError([1, 2], [1, 4]), 0.5)
        for bad: Float in [.nan, .infinity, -.infinity] {
            XCTAssertEqual(scaledError([1, bad, 3], [1, 2, 3]), .infinity, "\(bad) in the result")
            XCTAssertEqual(scaledError([1, 2, 3], [1, bad, 3]), .infinity, "\(bad) in the reference")
            XCTAssertEqual(scaledError([bad, 2], [bad, 2]), .infinity, "\(bad) on both sides")
        }
        XCTAssertEqual(scaledError([1], [1, 2]), .infinity, "counts differ")
    }

    func testTheBestInstructionSetIsUsedByDefault() {
        // On x86-64 machines with AVX-512 (this project's reference machine) the fastest kernels run.
        #if arch(x86_64)
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let expected: KernelSettings.ISA = flags.contains(" avx512f") && flags.contains(" fma") ? .avx512
            : flags.contains(" avx2") && flags.contains(" fma") ? .avx2 : .generic
        XCTAssertEqual(KernelSettings.best, expected)
        #endif
        XCTAssertEqual(ConvPlan(Self.sweep[0]).isa, KernelSettings.current.isa)
    }

    /// The sweep reaches every pass kind in both forward-type passes.
    func testSweepExercisesDirectAndGatheredTiles() {
        var seen = Set<String>()
        withEachConfiguration { _ in
            for g in Self.sweep {
                let m = ConvPlan(g).modes
                seen.insert("f-\(m.forward)")
                seen.insert("b-\(m.backwardData)")
            }
        }
        var expected: Set = ["f-direct", "f-gather", "f-winograd", "b-direct", "b-gather", "b-gatherRaw", "b-phases", "b-winograd",
                             "f-reference", "b-reference"]
        if KernelSettings.best == .avx512 { expected.formUnion(["f-rows", "b-rows"]) }
        XCTAssertEqual(seen, expected)
        let saved = KernelSettings.current.winograd
        defer { KernelSettings.current.winograd = saved }
        KernelSettings.current.winograd = false
        let plan = ConvPlan(geometry(1, 16, 16, [32, 32, 32], k: [3, 3, 3], p: [1, 1, 1]))
        XCTAssertEqual(plan.modes.forward, "direct")
        // The slab-wise padding runs where the padded copy would be large, and in the tests' slab
        // configurations on every direct pass of four planes per thread or more.
        XCTAssertNil(plan.forwardPass!.slabPlanes(threads: 2))
        var slabs = plan.settings
        slabs.slabFloats = 0
        XCTAssertEqual(ConvPlan(plan.geometry, settings: slabs).forwardPass!.slabPlanes(threads: 2), 16)
    }

    func testForwardMatchesReferenceOnSweptShapes() {
        for (i, g) in Self.sweep.enumerated() {
            let c = ConvCase(g, seed: 100 + UInt64(i))
            let acts = [FusedActivation.none, .relu, .leakyReLU(0.01)]
            let refs = acts.map { c.forward(activation: $0, threads: 2, reference: true) }
            withEachConfiguration { config in
                for (act, ref) in zip(acts, refs) {
                    let fast = c.forward(activation: act, threads: 2)
                    XCTAssertLessThan(scaledError(fast, ref), 1e-5, "\(g) \(act) \(config)")
                }
            }
        }
    }

    /// The convolution of a concatenation computed from its parts (the padded copy filled part by
    /// part; the plain path assembling them), also when the parts are consumed (released between
    /// the padded copy and the output), gives the bits of the convolution of the built
    /// concatenation, in every kernel configuration, with 1–3 parts and batch 1–2.
    func testConvolutionOfPartsEqualsConvolutionOfConcatenation() {
        for (i, g) in Self.sweep.enumerated() where g.inChannels >= 2 {
            let c = ConvCase(g, seed: 150 + UInt64(i))
            let inner = g.inputSize.reduce(1, *)
            // Split the channels into up to three groups and lay each out as its own [N, c_k, s…].
            let cuts = g.inChannels >= 3 ? [1, g.inChannels / 2 + 1, g.inChannels] : [1, g.inChannels]
            var parts = [Tensor]()
            var lo = 0
            for hi in cuts {
                var v = [Float]()
                for n in 0..<g.batch { v += c.input[(n * g.inChannels + lo) * inner..<(n * g.inChannels + hi) * inner] }
                parts.append(Tensor(shape: [g.batch, hi - lo] + g.inputSize, storage: v))
                lo = hi
            }
            let x = Tensor(shape: [g.batch, g.inChannels] + g.inputSize, storage: c.input)
            let w = Variable(Tensor(shape: [g.outChannels, g.inChannels] + g.kernel, storage: c.weight))
            let b = Variable(Tensor(shape: [g.outChannels], storage: c.bias))
            withEachConfiguration { config in
                let plan = ConvPlan(g)
                c.weight.withUnsafeBufferPointer { plan.pack(weight: $0.baseAddress!) }
                let whole = withoutGradients { conv(Variable(x), weight: w, bias: b, plan: plan, activation: .leakyReLU(0.01)).value }
                let fromParts = convConcatenated(parts, bias: b.value, plan: plan, activation: .leakyReLU(0.01))
                XCTAssertEqual(whole.shape, fromParts.shape)
                XCTAssertEqual(whole.storage.map(\.bitPattern), fromParts.storage.map(\.bitPattern), "\(g) \(config)")
                // Consuming the parts (padded copy first, parts released, then the output).
                var owned: [Tensor]? = parts
                let consumed = convConsuming(&owned, bias: b.value, plan: plan, activation: .leakyReLU(0.01))
                XCTAssertNil(owned)
                XCTAssertEqual(whole.storage.map(\.bitPattern), consumed.storage.map(\.bitPattern), "consuming \(g) \(config)")
            }
        }
    }

    /// A pending normalisation (with leaky ReLU) that the Winograd pass applies as it reads its
    /// input, from one tensor or from parts, gives the bits of applying it first; other passes
    /// do not take one.
    func testPendingNormalizationReadByWinogradEqualsApplyingItFirst() {
        let saved = KernelSettings.current.winograd
        defer { KernelSettings.current.winograd = saved }
        KernelSettings.current.winograd = true
        let shapes = [geometry(2, 5, 8, [5, 7, 6], k: [3, 3, 3], p: [1, 1, 1]), geometry(1, 16, 16, [4, 3, 40], k: [3, 3, 3], p: [1, 1, 1])]
        for (i, g) in shapes.enumerated() {
            let c = ConvCase(g, seed: 500 + UInt64(i))
            let x = Tensor(shape: [g.batch, g.inChannels] + g.inputSize, storage: c.input.map { $0 * 3 + 0.5 })
            var rng = SeededGenerator(seed: 600 + UInt64(i))
            let gamma = Tensor(shape: [g.inChannels], storage: (0..<g.inChannels).map { _ in Float(rng.uniform(-2, 2)) })
            let beta = Tensor(shape: [g.inChannels], storage: (0..<g.inChannels).map { _ in Float(rng.uniform(-1, 1)) })
            let (pending, _) = pendingNormalization(of: x, .groups(g.inChannels), gamma: gamma, beta: beta, leakySlope: 0.01)
            var applied = x
            pending.apply(to: &applied)
            let plan = ConvPlan(g)
            c.weight.withUnsafeBufferPointer { plan.pack(weight: $0.baseAddress!) }
            XCTAssertTrue(plan.readsPendingNormalization, "\(g)")
            let bias = Tensor(shape: [g.outChannels], storage: c.bias)
            let expected = convConcatenated([applied], bias: bias, plan: plan, activation: .leakyReLU(0.01))
            // Two parts: the first channel, then the rest.
            let inner = g.inputSize.reduce(1, *)
            var first = [Float](), rest = [Float]()
            for n in 0..<g.batch {
                first += x.storage[(n * g.inChannels) * inner..<(n * g.inChannels + 1) * inner]
                rest += x.storage[(n * g.inChannels + 1) * inner..<(n + 1) * g.inChannels * inner]
            }
            let parts = [Tensor(shape: [g.batch, 1] + g.inputSize, storage: first),
                         Tensor(shape: [g.batch, g.inChannels - 1] + g.inputSize, storage: rest)]
            let fused = convConcatenated(parts, pending: pending, bias: bias, plan: plan, activation: .leakyReLU(0.01))
            XCTAssertEqual(fused.storage.map(\.bitPattern), expected.storage.map(\.bitPattern), "\(g)")
            var owned: [Tensor]? = [x]
            let consumed = convConsuming(&owned, pending: pending, bias: bias, plan: plan, activation: .leakyReLU(0.01))
            XCTAssertEqual(consumed.storage.map(\.bitPattern), expected.storage.map(\.bitPattern), "consuming \(g)")
            // The sums written with the output are the output's sums (odd sizes, partial blocks).
            var owned2: [Tensor]? = parts
            let (withSums, sums) = convConsumingWithStatistics(&owned2, pending: pending, bias: bias, plan: plan, activation: .leakyReLU(0.01))
            XCTAssertEqual(withSums.storage.map(\.bitPattern), expected.storage.map(\.bitPattern), "with sums \(g)")
            let per = g.outputSize.reduce(1, *)
            for b in 0..<(g.batch * g.outChannels) {
                let v = withSums.storage[(b * per)..<((b + 1) * per)].map(Double.init)
                let (s, q) = (v.reduce(0, +), v.reduce(0) { $0 + $1 * $1 })
                XCTAssertEqual(sums![2 * b], s, accuracy: 1e-5 * max(1, v.map(abs).reduce(0, +)), "sum \(b) \(g)")
                XCTAssertEqual(sums![2 * b + 1], q, accuracy: 1e-5 * max(1, q), "squares \(b) \(g)")
            }
            // Forced off: no Winograd pass, no pending normalisation.
            KernelSettings.current.winograd = false
            XCTAssertFalse(ConvPlan(g).readsPendingNormalization)
            KernelSettings.current.winograd = true
        }
    }

    func testBackwardDataMatchesReferenceOnSweptShapes() {
        for (i, g) in Self.sweep.enumerated() {
            let c = ConvCase(g, seed: 200 + UInt64(i))
            let ref = c.backwardData(threads: 2, reference: true)
            withEachConfiguration { config in
                XCTAssertLessThan(scaledError(c.backwardData(threads: 2), ref), 1e-5, "\(g) \(config)")
            }
        }
    }

    func testBackwardWeightsMatchesReferenceOnSweptShapes() {
        for (i, g) in Self.sweep.enumerated() {
            let c = ConvCase(g, seed: 300 + UInt64(i))
            let ref = c.backwardWeights(threads: 2, reference: true)
            withEachConfiguration { config in
                let fast = c.backwardWeights(threads: 2)
                XCTAssertLessThan(scaledError(fast.gw, ref.gw), 1e-5, "\(g) \(config)")
                XCTAssertLessThan(scaledError(fast.gb, ref.gb), 1e-5, "\(g) \(config)")
            }
        }
    }

    /// The row kernel sums each output in the one-row tiles' order with the same fused
    /// multiply-adds, so it gives their bits (forced direct tiles on a padded copy).
    func testRowKernelGivesTheBitsOfTheDirectTiles() {
        let saved = KernelSettings.current.forceDirect
        defer { KernelSettings.current.forceDirect = saved }
        let shapes = [
            geometry(1, 1, 3, [5, 6, 70], k: [3, 3, 3], p: [1, 1, 1]), geometry(2, 4, 1, [4, 5, 33], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(1, 1, 2, [9, 40], k: [3, 3], p: [1, 1]),
        ]
        for (i, g) in shapes.enumerated() {
            let c = ConvCase(g, seed: 700 + UInt64(i))
            KernelSettings.current.forceDirect = nil
            let modes = ConvPlan(g).modes
            // The row kernel exists for AVX-512 only; elsewhere these shapes take the tiles.
            XCTAssertEqual(modes.forward == "rows" || modes.backwardData == "rows", KernelSettings.current.isa == .avx512, "\(g) \(modes)")
            let rows = (c.forward(activation: .leakyReLU(0.01), threads: 2), c.backwardData(threads: 2))
            KernelSettings.current.forceDirect = true
            XCTAssertEqual(ConvPlan(g).modes.forward == "rows" || ConvPlan(g).modes.backwardData == "rows", false)
            let tiles = (c.forward(activation: .leakyReLU(0.01), threads: 2), c.backwardData(threads: 2))
            XCTAssertEqual(rows.0.map(\.bitPattern), tiles.0.map(\.bitPattern), "forward \(g)")
            XCTAssertEqual(rows.1.map(\.bitPattern), tiles.1.map(\.bitPattern), "backwardData \(g)")
        }
    }

    func testResultsAreBitIdenticalAcrossThreadCounts() {
        let shapes = [
            geometry(2, 16, 16, [8, 9, 12], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(1, 3, 24, [33, 40], k: [3, 3], p: [1, 1]),
            geometry(1, 8, 5, [9, 7, 8], k: [3, 3, 3], s: [2, 2, 2], p: [1, 1, 1]),
            geometry(2, 1, 9, [11, 7, 9], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(2, 6, 5, [8, 6, 10], k: [2, 2, 2], s: [2, 2, 2]),
            // One Winograd block: the threads share its output channels.
            geometry(1, 16, 40, [4, 6, 5], k: [3, 3, 3], p: [1, 1, 1]),
            // Backward-data on the row kernel: threads split the planes (or, at 3 threads, planes
            // and rows); in 2D, the rows.
            geometry(1, 1, 4, [5, 9, 40], k: [3, 3, 3], p: [1, 1, 1]),
            geometry(1, 1, 3, [13, 40], k: [3, 3], p: [1, 1]),
        ]
        for (i, g) in shapes.enumerated() { withEachConfiguration { config in
            let c = ConvCase(g, seed: 400 + UInt64(i))
            let f1 = c.forward(threads: 1), d1 = c.backwardData(threads: 1), w1 = c.backwardWeights(threads: 1)
            for t in [2, 3] {
                XCTAssertEqual(c.forward(threads: t), f1, "forward \(g) threads \(t) \(config)")
                XCTAssertEqual(c.backwardData(threads: t), d1, "backwardData \(g) threads \(t) \(config)")
                let w = c.backwardWeights(threads: t)
                XCTAssertEqual(w.gw, w1.gw, "backwardWeights \(g) threads \(t) \(config)")
                XCTAssertEqual(w.gb, w1.gb, "backwardBias \(g) threads \(t) \(config)")
            }
        } }
    }
}
