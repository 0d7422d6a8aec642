import Foundation
import MedVoxCore
import MedVoxTestSupport
import XCTest

@testable import MedVoxTransforms

final class FFTTests: XCTestCase {
    /// 1D sizes: powers of two, mixed radix (2·3·5·7·11·13) and primes through Bluestein.
    func testOneDimensionalMatchesNumpy() {
        let sizes = [1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 16, 17, 30, 45, 64, 97, 143, 160, 210, 256, 331]
        var rng = SeededGenerator(seed: 11)
        for n in sizes {
            let re = (0..<n).map { _ in rng.uniform(-1, 1) }, im = (0..<n).map { _ in rng.uniform(-1, 1) }
            var fr = re.map(Float.init), fi = im.map(Float.init)
            var br = fr, bi = fi
            let plan = FFTPlan(size: n)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plan.scratchCount)
            defer { scratch.deallocate() }
            fr.withUnsafeMutableBufferPointer { r in fi.withUnsafeMutableBufferPointer { i in plan.transform(r.baseAddress!, i.baseAddress!, inverse: false, scratch: scratch) } }
            br.withUnsafeMutableBufferPointer { r in bi.withUnsafeMutableBufferPointer { i in plan.transform(r.baseAddress!, i.baseAddress!, inverse: true, scratch: scratch) } }
            let script = """
                x = load(0) + 1j * load(1)
                f = np.fft.fft(x); b = np.fft.ifft(x)
                save(0, f.real); save(1, f.imag); save(2, b.real); save(3, b.imag)
                """
            guard let o = Oracle.run(script, inputs: [re, im], outputs: 4) else { return }
            let tol = 2e-6 * Double(n).squareRoot() * log2(Double(n) + 1) + 1e-6
            assertClose(fr, o[0].map { $0 }, atol: tol * Double(n).squareRoot(), "fft re n=\(n)")
            assertClose(fi, o[1], atol: tol * Double(n).squareRoot(), "fft im n=\(n)")
            assertClose(br, o[2], atol: tol, "ifft re n=\(n)")
            assertClose(bi, o[3], atol: tol, "ifft im n=\(n)")
        }
    }

    /// 2D and 3D (odd and even sizes) against numpy.fft.fftn / ifftn; round trip.
    func testMultiDimensionalMatchesNumpy() {
        var rng = SeededGenerator(seed: 12)
        for dims in [[6, 9, 1], [5, 8, 7], [16, 10, 11], [1, 12, 9], [17, 6, 19]] {
            let n = dims.reduce(1, *)
            let re = (0..<n).map { _ in rng.uniform(-1, 1) }, im = (0..<n).map { _ in rng.uniform(-1, 1) }
            var c = ComplexVolume(dims: dims, re: re.map(Float.init), im: im.map(Float.init))
            c.fft()
            let script = """
                x = (load(0) + 1j * load(1)).reshape((\(dims[0]), \(dims[1]), \(dims[2])), order='F')
                f = np.fft.fftn(x)
                save(0, f.real); save(1, f.imag)
                """
            guard let o = Oracle.run(script, inputs: [re, im], outputs: 2) else { return }
            let tol = 1e-5 * Double(n).squareRoot() * 4
            assertClose(c.re, o[0], atol: tol, "fftn re \(dims)")
            assertClose(c.im, o[1], atol: tol, "fftn im \(dims)")
            c.fft(inverse: true)
            assertClose(c.re, re, atol: 1e-5, "round trip re \(dims)")
            assertClose(c.im, im, atol: 1e-5, "round trip im \(dims)")
        }
    }

    /// The oracle comparison fails on a NaN or an infinity in the result or the reference.
    func testOracleComparisonRejectsNaNAndInfinity() {
        let reference: [Double] = [0.5, -1, 2]
        XCTAssertNil(closenessFailure([Float(0.5), -1, 2], reference, rtol: 0, atol: 1e-6))
        for bad in [Float.nan, .infinity, -.infinity] {
            XCTAssertNotNil(closenessFailure([0.5, -1, bad], reference, rtol: 0, atol: 1e3), "\(bad) result")
            XCTAssertNotNil(closenessFailure([Float(0.5), -1, 2], [0.5, Double(bad), 2], rtol: 0, atol: 1e3), "\(bad) reference")
        }
    }

    func testThreadCountDoesNotChangeBits() {
        var rng = SeededGenerator(seed: 2)
        let re = (0..<(20 * 18 * 15)).map { _ in Float(rng.uniform(-1, 1)) }
        let saved = Runtime.threads
        defer { Runtime.threads = saved }
        Runtime.threads = 1
        var a = ComplexVolume(dims: [20, 18, 15], re: re)
        a.fft()
        Runtime.threads = 2
        var b = ComplexVolume(dims: [20, 18, 15], re: re)
        b.fft()
        XCTAssertEqual(a.re, b.re)
        XCTAssertEqual(a.im, b.im)
    }

    /// The real-input spectrum peak (paired planes, half the k_x range) equals max |numpy.fft.fftn|
    /// on odd and even sizes, with negative values (so the peak is not the DC term), at 1 and 2 threads.
    func testRealSpectrumPeakMatchesNumpy() {
        var rng = SeededGenerator(seed: 13)
        let saved = Runtime.threads
        defer { Runtime.threads = saved }
        for dims in [[6, 9, 1], [5, 8, 7], [16, 10, 11], [1, 12, 9], [17, 6, 19], [13, 7, 2]] {
            let n = dims.reduce(1, *)
            let v = (0..<n).map { i in rng.uniform(-1, 1) + (i % 5 == 0 ? 3 * sin(Double(i)) : 0) }
            Runtime.threads = 1
            let one = ComplexVolume.peakMagnitude(ofReal: v.map(Float.init), dims: dims)
            Runtime.threads = 2
            let two = ComplexVolume.peakMagnitude(ofReal: v.map(Float.init), dims: dims)
            XCTAssertEqual(one, two, "threads \(dims)")
            let script = """
                x = load(0).reshape((\(dims[0]), \(dims[1]), \(dims[2])), order='F')
                save(0, [np.abs(np.fft.fftn(x)).max()])
                """
            guard let o = Oracle.run(script, inputs: [v], outputs: 1) else { return }
            XCTAssertEqual(one, o[0][0], accuracy: 1e-5 * Double(n), "peak \(dims)")
        }
    }

    /// The C stages (fft.c, compiled per instruction set) compute the Swift stage kernel's
    /// operations in its order: identical bits, forward and inverse, batched and contiguous lines,
    /// every radix (4, 2, 3, 5 and a direct 7…13) and a Bluestein length.
    func testCKernelsEqualSwiftDefinition() {
        var rng = SeededGenerator(seed: 14)
        let saved = KernelSettings.current
        defer { KernelSettings.current = saved }
        for dims in [[160, 6, 5], [7 * 11, 13, 3], [30, 8, 9], [17, 4, 12], [64, 5, 26]] {
            let n = dims.reduce(1, *)
            let re = (0..<n).map { _ in Float(rng.uniform(-1, 1)) }, im = (0..<n).map { _ in Float(rng.uniform(-1, 1)) }
            for inverse in [false, true] {
                KernelSettings.current.reference = false
                var a = ComplexVolume(dims: dims, re: re, im: im)
                a.fft(inverse: inverse)
                KernelSettings.current.reference = true
                var b = ComplexVolume(dims: dims, re: re, im: im)
                b.fft(inverse: inverse)
                XCTAssertEqual(a.re, b.re, "re \(dims) inverse \(inverse)")
                XCTAssertEqual(a.im, b.im, "im \(dims) inverse \(inverse)")
            }
        }
    }
}
