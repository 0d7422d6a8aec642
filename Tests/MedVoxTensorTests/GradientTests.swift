import Foundation
import MedVoxCore
import XCTest

@testable import MedVoxTensor

/// Random leaf with values bounded away from 0 (so ReLU-like kinks are not straddled by ε).
func randomVariable(_ shape: [Int], seed: UInt64, awayFromZero: Bool = true) -> Variable {
    var rng = SeededGenerator(seed: seed)
    var t = Tensor(shape: shape)
    for i in 0..<t.count {
        let u = Float(rng.uniform(-1, 1))
        t.storage[i] = awayFromZero ? (u < 0 ? u - 0.1 : u + 0.1) : u
    }
    return Variable(t, requiresGrad: true)
}

/// A leaf holding a shuffled ramp with steps of 0.1, so no two values are within 2ε (max pooling).
func distinctVariable(_ shape: [Int], seed: UInt64) -> Variable {
    var rng = SeededGenerator(seed: seed)
    let n = shape.reduce(1, *)
    var values = (0..<n).map { Float($0) * 0.1 - Float(n) * 0.05 }
    values.shuffle(using: &rng)
    return Variable(Tensor(shape: shape, storage: values), requiresGrad: true)
}

func assertGradients(_ inputs: [Variable], tolerance: Double = 2e-2, eps: Float = 1e-2,
                     file: StaticString = #filePath, line: UInt = #line, _ f: () -> Variable)
{
    let r = gradientCheck(inputs: inputs, eps: eps, f)
    XCTAssertLessThan(r.maxRelativeError, tolerance, r.description, file: file, line: line)
}

final class GradientTests: XCTestCase {
    override class func tearDown() {
        ISACoverage.report("GradientTests")
        super.tearDown()
    }

    /// A NaN or an infinite gradient, analytic or numeric, is the worst error, never skipped.
    func testGradientCheckFailsOnNonFiniteGradients() {
        let a = randomVariable([2, 3], seed: 30)
        XCTAssertLessThan(gradientCheck(inputs: [a]) { a * 2.5 }.maxRelativeError, 1e-3)
        // A NaN input: the analytic gradient of 2.5·a is finite, the finite difference is NaN.
        let withNaN = randomVariable([2, 3], seed: 31)
        withNaN.value.storage[4] = .nan
        XCTAssertEqual(gradientCheck(inputs: [withNaN]) { withNaN * 2.5 }.maxRelativeError, .infinity)
        // An infinite factor: the analytic gradient of a·b with respect to a is infinite there.
        let b = randomVariable([2, 3], seed: 32)
        b.value.storage[1] = .infinity
        XCTAssertEqual(gradientCheck(inputs: [a]) { a * b }.maxRelativeError, .infinity)
    }

    func testElementwiseAndActivations() {
        let a = randomVariable([2, 3, 4], seed: 1), b = randomVariable([2, 3, 4], seed: 2)
        assertGradients([a, b]) { a + b }
        assertGradients([a, b]) { a - b }
        assertGradients([a, b]) { a * b }
        assertGradients([a]) { a * 2.5 }
        assertGradients([a]) { sum(a) }
        assertGradients([a]) { mean(a) }
        assertGradients([a]) { relu(a) }
        assertGradients([a]) { leakyReLU(a, slope: 0.1) }
        assertGradients([a]) { elu(a, alpha: 0.7) }
        assertGradients([a]) { sigmoid(a) }
        assertGradients([a]) { tanh(a) }
        let slopes = Variable(Tensor(shape: [3], storage: [0.1, 0.25, -0.3]), requiresGrad: true)
        assertGradients([a, slopes]) { prelu(a, slopes: slopes) }
        let shared = Variable(Tensor(shape: [1], storage: [0.2]), requiresGrad: true)
        assertGradients([a, shared]) { prelu(a, slopes: shared) }
    }

    func testSoftmaxOverChannels() {
        let x = randomVariable([2, 4, 3, 2], seed: 3)
        assertGradients([x]) { softmax(x) }
        assertGradients([x]) { logSoftmax(x) }
        let s = softmax(x.value)
        for b in 0..<2 {
            for p in 0..<6 {
                var t: Float = 0
                for c in 0..<4 { t += s.storage[b * 24 + c * 6 + p] }
                XCTAssertEqual(t, 1, accuracy: 1e-6)
            }
        }
    }

    /// The vectorised softmax against a float64 softmax: within 4e-7 relative (plus the rounding of
    /// x - max in single precision) over a wide range of logits (exponentials down to underflow, subnormal ones flushed to 0), positions not a multiple of its 16 lanes, NaN and
    /// infinity giving NaN, and the same bits on every instruction set and thread count.
    func testSoftmaxMatchesDoubleAndIsTheSameOnEveryInstructionSet() {
        var rng = SeededGenerator(seed: 11)
        let (c, inner) = (5, 37)
        var values = (0..<(2 * c * inner)).map { _ in Float(rng.uniform(-60, 60)) }
        values[3] = 0; values[3 + inner] = -200  // a term far below underflow
        values[5] = .nan
        values[6 + 2 * inner] = .infinity
        let x = Tensor(shape: [2, c, inner], storage: values)
        let y = softmax(x)
        for b in 0..<2 {
            for s in 0..<inner {
                let xs = (0..<c).map { Double(values[(b * c + $0) * inner + s]) }
                let ys = (0..<c).map { y.storage[(b * c + $0) * inner + s] }
                if xs.contains(where: { $0.isNaN || $0.isInfinite }) {
                    XCTAssertTrue(ys.allSatisfy(\.isNaN), "position \(s) of item \(b): \(ys)")
                    continue
                }
                let m = xs.max()!
                let z = xs.reduce(0) { $0 + Foundation.exp($1 - m) }
                for k in 0..<c {
                    // Float softmax rounds x - max first: |x - max|·2⁻²⁴ more relative error.
                    let want = Foundation.exp(xs[k] - m) / z, d = abs(xs[k] - m)
                    // Exponentials below single precision's normal range (x - max < -87.3) are 0.
                    XCTAssertEqual(Double(ys[k]), want, accuracy: want * (4e-7 + d * 0x1p-23) + Double(Float.leastNormalMagnitude),
                                   "channel \(k) position \(s)")
                }
            }
        }
        let saved = (KernelSettings.current.isa, Runtime.threads)
        defer { (KernelSettings.current.isa, Runtime.threads) = saved }
        let big = Tensor(shape: [1, 4, 70_001], storage: (0..<280_004).map { _ in Float(rng.uniform(-30, 30)) })
        let reference = softmax(big).storage.map(\.bitPattern)
        for isa in KernelSettings.ISA.allCases where isa <= KernelSettings.best {
            for threads in [1, 3] {
                (KernelSettings.current.isa, Runtime.threads) = (isa, threads)
                ISACoverage.record(isa, in: "GradientTests")
                XCTAssertEqual(softmax(big).storage.map(\.bitPattern), reference, "\(isa) threads \(threads)")
            }
        }
    }

    func testPoolingTwoAndThreeDimensions() {
        let x3 = distinctVariable([1, 2, 4, 5, 3], seed: 4)
        for g in [PoolGeometry(inputShape: x3.shape, kernel: [2, 2, 2]),
                  PoolGeometry(inputShape: x3.shape, kernel: [3, 3, 3], stride: [2, 2, 1], padding: [1, 1, 1])] {
            assertGradients([x3]) { maxPool(x3, g) }
            assertGradients([x3]) { avgPool(x3, g) }
        }
        let x2 = distinctVariable([2, 1, 5, 4], seed: 5)
        let g2 = PoolGeometry(inputShape: x2.shape, kernel: [2, 2])
        XCTAssertEqual(g2.output.shape(d: 1, h: 2, w: 2), [2, 1, 2, 2])
        assertGradients([x2]) { maxPool(x2, g2) }
        assertGradients([x2]) { avgPool(x2, g2) }
        assertGradients([x2]) { globalAvgPool(x2) }
        // Hand-computed: 2×2 max pool of [[1,2],[3,4]] is 4, average 2.5.
        let t = Tensor(shape: [1, 1, 2, 2], storage: [1, 2, 3, 4])
        let g = PoolGeometry(inputShape: t.shape, kernel: [2, 2])
        XCTAssertEqual(maxPool(t, g).output.storage, [4])
        XCTAssertEqual(avgPool(t, g).storage, [2.5])
        // The inference path (values only, direct loop where windows tile the input) gives
        // maxPool's outputs bit for bit: odd sizes, 2D and 3D, kernels 2 and 3, ties, a NaN, and a
        // padded geometry (which falls back to maxPool).
        var rng = SeededGenerator(seed: 21)
        for (shape, kernel, padding) in [([2, 3, 7, 6, 9], [2, 2, 2], nil), ([1, 2, 9, 9, 8], [3, 3, 3], nil), ([2, 4, 11, 6], [2, 2], nil),
                                         ([1, 2, 5, 5, 5], [3, 3, 3], [1, 1, 1]), ([1, 1, 4, 6, 4], [2, 3, 1], nil)] as [([Int], [Int], [Int]?)] {
            var values = (0..<shape.reduce(1, *)).map { _ in Float(Int(rng.uniform(0, 6))) }  // many ties
            values[values.count / 3] = .nan
            let x = Tensor(shape: shape, storage: values)
            let g = PoolGeometry(inputShape: shape, kernel: kernel, padding: padding)
            let a = maxPool(x, g).output
            let saved = KernelSettings.current.isa
            defer { KernelSettings.current.isa = saved }
            for isa in KernelSettings.ISA.allCases where isa <= KernelSettings.best {
                KernelSettings.current.isa = isa
                ISACoverage.record(isa, in: "GradientTests")
                let b = maxPoolValues(x, g)
                XCTAssertEqual(a.shape, b.shape)
                XCTAssertEqual(a.storage.map(\.bitPattern), b.storage.map(\.bitPattern), "\(shape) kernel \(kernel) \(isa)")
            }
        }
    }

    /// The statistics behind the norms (one pass of 16-lane double sums of x and x² in C) equal a
    /// two-pass double computation to 1e-6 of the Float result and give the same bits on every
    /// instruction set and thread count.
    func testNormStatisticsAreExactAndIndependentOfISAAndThreads() {
        var rng = SeededGenerator(seed: 22)
        let x = Tensor(shape: [2, 3, 17, 9, 5], storage: (0..<(2 * 3 * 765)).map { _ in Float(rng.normal()) * 3 + 1 })
        let inner = 765
        for b in 0..<6 {
            let block = x.storage[(b * inner)..<((b + 1) * inner)].map(Double.init)
            let mu = block.reduce(0, +) / Double(inner)
            let v = block.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(inner)
            var y = x
            let stats = normalizeInPlace(&y, .groups(3), gamma: nil, beta: nil)
            XCTAssertEqual(Double(stats.mean[b]), Double(Float(mu)), accuracy: 1e-6 * max(1, abs(mu)))
            XCTAssertEqual(Double(stats.variance[b]), Double(Float(v)), accuracy: 1e-6 * v)
        }
        let saved = (KernelSettings.current.isa, Runtime.threads)
        defer { (KernelSettings.current.isa, Runtime.threads) = saved }
        var outputs = Set<[UInt32]>()
        for isa in KernelSettings.ISA.allCases where isa <= KernelSettings.best {
            for threads in [1, 2, 3] {
                (KernelSettings.current.isa, Runtime.threads) = (isa, threads)
                ISACoverage.record(isa, in: "GradientTests")
                var y = x
                _ = normalizeInPlace(&y, .groups(3), gamma: nil, beta: nil, leakySlope: 0.01)
                outputs.insert(y.storage.map(\.bitPattern))
            }
        }
        XCTAssertEqual(outputs.count, 1)
    }

    func testNormalisations() {
        let x = randomVariable([2, 4, 3, 2, 2], seed: 6, awayFromZero: false)
        let gamma = randomVariable([4], seed: 7), beta = randomVariable([4], seed: 8)
        assertGradients([x, gamma, beta]) { normalize(x, .batch, gamma: gamma, beta: beta).0 }
        assertGradients([x, gamma, beta]) { normalize(x, .groups(4), gamma: gamma, beta: beta).0 }
        assertGradients([x, gamma, beta]) { normalize(x, .groups(2), gamma: gamma, beta: beta).0 }
        assertGradients([x]) { normalize(x, .groups(1), gamma: nil, beta: nil).0 }
        // Instance norm output: zero mean, unit variance per (n, c).
        let (y, _) = normalize(x.value, .groups(4), gamma: nil, beta: nil, eps: 0)
        let block = Array(y.storage[0..<12])
        let mu = block.reduce(0, +) / 12
        let v = block.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 12
        XCTAssertEqual(mu, 0, accuracy: 1e-5)
        XCTAssertEqual(v, 1, accuracy: 1e-4)
    }

    func testUpsamplingConcatDropoutLinearFlatten() {
        let x = randomVariable([1, 2, 2, 3, 2], seed: 9)
        assertGradients([x]) { upsample(x, scale: [2, 2, 2], mode: .linear) }
        assertGradients([x]) { upsample(x, scale: [2, 1, 3], mode: .nearest) }
        let x2 = randomVariable([2, 1, 3, 3], seed: 10)
        assertGradients([x2]) { upsample(x2, scale: [2, 2], mode: .linear) }
        // Bilinear, align_corners=False, values from torch.nn.functional.interpolate([0, 1], 2×):
        // [0, 0.25, 0.75, 1].
        let ramp = Tensor(shape: [1, 1, 2], storage: [0, 1])
        XCTAssertEqual(upsample(ramp, scale: [2], mode: .linear).storage, [0, 0.25, 0.75, 1])
        XCTAssertEqual(upsample(ramp, scale: [2], mode: .nearest).storage, [0, 0, 1, 1])

        let a = randomVariable([2, 2, 3], seed: 11), b = randomVariable([2, 3, 3], seed: 12)
        assertGradients([a, b]) { concatChannels([a, b]) }
        XCTAssertEqual(splitChannels(concatChannels([a.value, b.value]), channels: [2, 3]), [a.value, b.value])

        var rng = SeededGenerator(seed: 1)
        let d = dropout(a, p: 0.5, training: true, rng: &rng)
        XCTAssertTrue(d.value.storage.enumerated().allSatisfy { $0.element == 0 || abs($0.element - 2 * a.value.storage[$0.offset]) < 1e-6 })
        var r1 = SeededGenerator(seed: 3), r2 = SeededGenerator(seed: 3)
        XCTAssertEqual(dropout(a, p: 0.3, training: true, rng: &r1).value, dropout(a, p: 0.3, training: true, rng: &r2).value)
        var r3 = SeededGenerator(seed: 3)
        assertGradients([a]) {
            var r = r3
            return dropout(a, p: 0.3, training: true, rng: &r)
        }
        _ = r3.next()
        XCTAssertEqual(dropout(a, p: 0.3, training: false, rng: &rng).value, a.value)

        let xin = randomVariable([3, 5], seed: 13), w = randomVariable([4, 5], seed: 14), bias = randomVariable([4], seed: 15)
        assertGradients([xin, w, bias]) { linear(xin, weight: w, bias: bias) }
        assertGradients([xin, w]) { linear(xin, weight: w, bias: nil) }
        let f = randomVariable([2, 3, 2, 2], seed: 16)
        XCTAssertEqual(flatten(f).shape, [2, 12])
        assertGradients([f]) { flatten(f) }
    }

    func testGradientsAccumulateUntilZeroGrad() {
        let w = Variable(Tensor(shape: [3], storage: [1, -2, 3]), requiresGrad: true)
        sum(relu(w)).backward()
        XCTAssertEqual(w.grad?.storage, [1, 0, 1])
        sum(w * w).backward()
        XCTAssertEqual(w.grad?.storage, [3, -4, 7])
        w.zeroGrad()
        XCTAssertNil(w.grad)
        // A value used twice gets the sum of both paths.
        sum(w + w).backward()
        XCTAssertEqual(w.grad?.storage, [2, 2, 2])
        // No graph is recorded without gradients.
        let y = withoutGradients { relu(w) }
        XCTAssertFalse(y.requiresGrad)
    }

    func testGemmMatchesReferenceOnAllTransposes() {
        var rng = SeededGenerator(seed: 21)
        for (m, n, k) in [(1, 1, 1), (5, 7, 3), (9, 300, 17), (33, 5, 64)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = (0..<(m * k)).map { _ in Float(rng.uniform(-1, 1)) }
                    let b = (0..<(k * n)).map { _ in Float(rng.uniform(-1, 1)) }
                    var c0 = (0..<(m * n)).map { _ in Float(rng.uniform(-1, 1)) }
                    var c1 = c0
                    let lda = ta ? m : k, ldb = tb ? k : n
                    gemmReference(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 0.75, c: &c0, ldc: n)
                    a.withUnsafeBufferPointer { ap in
                        b.withUnsafeBufferPointer { bp in
                            c1.withUnsafeMutableBufferPointer { cp in
                                gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: ap.baseAddress!, lda: lda,
                                     b: bp.baseAddress!, ldb: ldb, beta: 0.75, c: cp.baseAddress!, ldc: n, threads: 2)
                            }
                        }
                    }
                    for i in 0..<(m * n) { XCTAssertEqual(c0[i], c1[i], accuracy: 1e-4 * Float(k), "m=\(m) n=\(n) k=\(k) tA=\(ta) tB=\(tb)") }
                }
            }
        }
    }
}

final class GradientRecordingTests: XCTestCase {
    /// Inference on one thread (`withoutGradients`) must not switch recording off on another:
    /// batch jobs and validation run inference concurrently with training in one process.
    final class Seen: @unchecked Sendable { var values: [Bool] = [] }

    func testRecordingIsPerThread() {
        let seen = Seen()
        withoutGradients {
            XCTAssertFalse(GradientRecording.isEnabled)
            let done = DispatchSemaphore(value: 0)
            Thread {
                seen.values.append(GradientRecording.isEnabled)
                withoutGradients { seen.values.append(GradientRecording.isEnabled) }
                seen.values.append(GradientRecording.isEnabled)
                done.signal()
            }.start()
            done.wait()
            XCTAssertFalse(GradientRecording.isEnabled)
        }
        XCTAssertEqual(seen.values, [true, false, true])
        XCTAssertTrue(GradientRecording.isEnabled)
    }
}
