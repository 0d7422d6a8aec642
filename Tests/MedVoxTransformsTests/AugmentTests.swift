import Foundation
import MedVoxCore
import MedVoxTestSupport
import XCTest

@testable import MedVoxTransforms

final class AugmentTests: XCTestCase {
    /// Label map: nested boxes 1, 2, 3 off-centre; the image is made from the labels (label × 100).
    func labelledSample(_ d: [Int] = [24, 22, 20]) -> Sample {
        var lab = Volume(dims: d, affine: Affine.scaling([1.1, 0.9, 1.3], origin: [-3, 4, 2]))
        for k in 0..<d[2] { for j in 0..<d[1] { for i in 0..<d[0] {
            var l: Float = 0
            if i > 3 && i < 18 && j > 4 && j < 17 && k > 2 && k < 16 { l = 1 }
            if i > 6 && i < 13 && j > 7 && j < 14 && k > 5 && k < 12 { l = 2 }
            if i > 8 && i < 11 && j > 8 && j < 11 && k > 7 && k < 10 { l = 3 }
            lab[i, j, k] = l
        } } }
        var img = lab
        img.mapVoxels { $0 * 100 }
        return Sample(image: img, labels: [lab])
    }

    func run(_ spec: AugmentSpec, _ sample: Sample, seed: UInt64, threads: Int = 2) throws -> (Sample, [AppliedTransform]) {
        let saved = Runtime.threads
        defer { Runtime.threads = saved }
        Runtime.threads = threads
        return try AugmentPipeline(transforms: [spec]).apply(to: sample, seed: seed)
    }

    func testEveryTransformIsSeededAndThreadIndependent() throws {
        let sample = labelledSample()
        for kind in AugmentKind.allCases where kind != .oneOf {
            let spec = AugmentSpec(kind)
            let (a, ra) = try run(spec, sample, seed: 42, threads: 1)
            let (b, rb) = try run(spec, sample, seed: 42, threads: 2)
            let (c, _) = try run(spec, sample, seed: 43, threads: 2)
            XCTAssertEqual(a.image.voxels, b.image.voxels, "\(kind): same seed, 1 vs 2 threads")
            XCTAssertEqual(a.labels.map(\.voxels), b.labels.map(\.voxels), "\(kind) labels")
            XCTAssertEqual(ra, rb, "\(kind) record")
            XCTAssertEqual(ra.first?.name, kind.rawValue)
            if kind != .flip {  // a flip may draw "no flip" for both seeds
                XCTAssertNotEqual(a.image.voxels, c.image.voxels, "\(kind): another seed changes the output")
            }
            XCTAssertTrue(a.image.voxels.allSatisfy(\.isFinite), "\(kind) finite")
            XCTAssertEqual(a.image.dims, sample.image.dims)
            XCTAssertTrue(a.image.affine == sample.image.affine)
        }
    }

    /// Spatial transforms move labels with the image: where the (linearly interpolated) image is
    /// clearly inside a region, the (nearest) label agrees.
    func testLabelsStayAligned() throws {
        let sample = labelledSample()
        var flip = AugmentSpec(.flip)
        flip.axes = [0, 1, 2]
        var affine = AugmentSpec(.affine)
        affine.degrees = [15]
        affine.translation = [3]
        affine.shear = [0.05]
        var elastic = AugmentSpec(.elastic)
        elastic.maxDisplacement = 3
        elastic.controlPoints = 5
        for spec in [flip, affine, elastic] {
            for seed: UInt64 in 1...3 {
                let (s, rec) = try run(spec, sample, seed: seed)
                var checked = 0, agree = 0
                for v in 0..<s.image.count {
                    let x = s.image.voxels[v] / 100
                    guard abs(x - x.rounded()) < 0.02 else { continue }
                    checked += 1
                    if s.labels[0].voxels[v] == x.rounded() { agree += 1 }
                }
                XCTAssertGreaterThan(checked, s.image.count / 2)
                XCTAssertGreaterThan(Double(agree) / Double(checked), 0.995, "\(spec.transform) seed \(seed): \(rec)")
                XCTAssertTrue(Set(s.labels[0].voxels).isSubset(of: [0, 1, 2, 3]), "labels stay labels")
            }
        }
    }

    func testNoiseStatisticsMatchParameters() throws {
        let flat = Sample(image: Volume(dims: [40, 40, 30]))
        var spec = AugmentSpec(.noise)
        spec.std = [0.3, 0.3]
        let (s, rec) = try run(spec, flat, seed: 5)
        XCTAssertEqual(rec[0].parameters["std"], [0.3])
        let n = Double(s.image.count)
        let mean = s.image.voxels.reduce(0.0) { $0 + Double($1) } / n
        let sd = (s.image.voxels.reduce(0.0) { $0 + pow(Double($1) - mean, 2) } / n).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.005)
        XCTAssertEqual(sd, 0.3, accuracy: 0.003)
        // Rician noise on a zero signal is Rayleigh: mean σ√(π/2).
        spec.transform = .rician
        let (r, _) = try run(spec, flat, seed: 6)
        let rm = r.image.voxels.reduce(0.0) { $0 + Double($1) } / n
        XCTAssertEqual(rm, 0.3 * (Double.pi / 2).squareRoot(), accuracy: 0.003)
    }

    func testGammaBiasAndContrastFollowRecordedParameters() throws {
        var ramp = Volume(dims: [16, 12, 10])
        for i in 0..<ramp.count { ramp.voxels[i] = Float(i % 97) + 3 }
        let sample = Sample(image: ramp)
        let (g, gr) = try run(AugmentSpec(.gamma), sample, seed: 9)
        let gamma = gr[0].parameters["gamma"]![0]
        for v in [0, 5, 500, 1000] {
            let x = (Double(ramp.voxels[v]) - 3) / 96
            XCTAssertEqual(Double(g.image.voxels[v]), 3 + 96 * pow(x, gamma), accuracy: 1e-3)
        }
        let (b, br) = try run(AugmentSpec(.biasField), sample, seed: 10)
        let coeffs = br[0].parameters["coefficients"]!
        let terms = Augmenter.monomials(3)
        for (i, j, k) in [(0, 0, 0), (15, 11, 9), (7, 3, 5)] {
            let f = Augmenter.biasValue(terms, coeffs, -1 + 2 * Double(i) / 15, -1 + 2 * Double(j) / 11, -1 + 2 * Double(k) / 9)
            XCTAssertEqual(Double(b.image[i, j, k]), Double(ramp[i, j, k]) * f, accuracy: 1e-3 * Double(ramp[i, j, k]) * f)
        }
        let (c, cr) = try run(AugmentSpec(.brightnessContrast), sample, seed: 11)
        func stats(_ v: [Float]) -> (Double, Double) {
            let m = v.reduce(0.0) { $0 + Double($1) } / Double(v.count)
            return (m, (v.reduce(0.0) { $0 + pow(Double($1) - m, 2) } / Double(v.count)).squareRoot())
        }
        let (m0, s0) = stats(ramp.voxels), (m1, s1) = stats(c.image.voxels)
        XCTAssertEqual(m1, m0 + cr[0].parameters["brightness"]![0] * s0, accuracy: 1e-3)
        XCTAssertEqual(s1, s0 * cr[0].parameters["contrast"]![0], accuracy: 1e-3)
    }

    func testLabelSynthesisGivesPerLabelMeans() throws {
        let sample = labelledSample()
        var spec = AugmentSpec(.labelSynthesis)
        spec.coefficients = [0]
        let (s, rec) = try run(spec, sample, seed: 3)
        XCTAssertEqual(rec[0].parameters["labels"], [0, 1, 2, 3])
        // Away from boundaries (blur ≤ 1 mm), voxels of label 0 average to its drawn mean.
        let mean0 = rec[0].parameters["means"]![0]
        var sum = 0.0, n = 0
        for k in 0..<20 { for j in 0..<22 { for i in 0..<2 { sum += Double(s.image[i, j, k]); n += 1 } } }
        XCTAssertEqual(sum / Double(n), mean0, accuracy: 0.03)
        XCTAssertThrowsError(try run(spec, Sample(image: sample.image), seed: 1)) { XCTAssertTrue($0 is TransformError) }
    }

    func testCompositionProbabilityOneOfAndSpecParsing() throws {
        let sample = labelledSample()
        let parsed = try AugmentPipeline.parse(spec: "flip,affine@0.5,noise@0")
        XCTAssertEqual(parsed.transforms.map(\.transform), [.flip, .affine, .noise])
        XCTAssertEqual(parsed.transforms[1].p, 0.5)
        let (_, rec) = try parsed.apply(to: sample, seed: 1)
        XCTAssertFalse(rec.contains { $0.name == "noise" }, "p = 0 never applies")
        var one = AugmentSpec(.oneOf)
        one.oneOf = [AugmentSpec(.gamma), AugmentSpec(.blur)]
        var names = Set<String>()
        for seed: UInt64 in 0..<20 { names.formUnion(try AugmentPipeline(transforms: [one]).apply(to: sample, seed: seed).1.map(\.name)) }
        XCTAssertEqual(names, ["gamma", "blur"])
        // JSON config round trip.
        let json = Data(#"{"version": 1, "seed": 7, "transforms": [{"transform": "affine", "degrees": [5], "p": 0.9}, {"transform": "one_of", "oneOf": [{"transform": "ghosting"}, {"transform": "spike"}]}]}"#.utf8)
        let cfg = try AugmentPipeline.decode(json, source: "aug.json")
        XCTAssertEqual(cfg.seed, 7)
        XCTAssertEqual(try JSONDecoder().decode(AugmentPipeline.self, from: JSONEncoder().encode(cfg)), cfg)
        XCTAssertThrowsError(try AugmentPipeline.parse(spec: "flip,teleport")) { XCTAssertTrue($0 is TransformError) }
        XCTAssertThrowsError(try AugmentPipeline.decode(Data("[]".utf8), source: "x.json")) { XCTAssertTrue("\($0)".hasPrefix("x.json: ")) }
        // Reproducible from the recorded seed.
        let (a, _) = try cfg.apply(to: sample)
        let (b, _) = try cfg.apply(to: sample)
        XCTAssertEqual(a.image.voxels, b.image.voxels)
    }

    /// k-space: undersampling keeps low frequencies (the mean survives), spike adds a plane wave,
    /// ghosting keeps the centre plane. Motion with zero movement returns the image (moves against
    /// their definition: testMotionEqualsTheKSpaceCompositionOfItsPoses).
    func testKSpaceArtefacts() throws {
        let sample = labelledSample([16, 16, 16])
        var still = AugmentSpec(.motion)
        still.degrees = [0, 0]
        still.translation = [0, 0]
        let (m, _) = try run(still, sample, seed: 4)
        assertClose(m.image.voxels, sample.image.voxels.map(Double.init), atol: 1e-2, "motion without motion")
        let (u, ur) = try run(AugmentSpec(.undersample), sample, seed: 4)
        XCTAssertEqual(ur[0].parameters["lines"]![8], 1, "k-space centre kept")
        let mean0 = sample.image.voxels.reduce(0, +) / Float(sample.image.count)
        let mean1 = u.image.voxels.reduce(0, +) / Float(u.image.count)
        XCTAssertGreaterThanOrEqual(mean1, mean0 * 0.99)
        let (sp, _) = try run(AugmentSpec(.spike), sample, seed: 4)
        XCTAssertNotEqual(sp.image.voxels, sample.image.voxels)
    }

    /// Motion with moves, against its definition built with numpy and scipy: k-space planes along
    /// the last axis (in centred order) from the recorded time of each move on come from the image
    /// in that move's pose (rotation Rz·Ry·Rx about the centre, then translation; linear
    /// interpolation, zero outside), the rest from the still image; the result is the magnitude of
    /// the inverse 3D transform. The object sits inside a zero border, so edge conventions agree.
    func testMotionEqualsTheKSpaceCompositionOfItsPoses() throws {
        let n = 16
        var v = Volume(dims: [n, n, n])
        for k in 4...11 { for j in 4...11 { for i in 4...11 {
            let inner: Float = (6...9).contains(i) && (6...9).contains(j) && (6...9).contains(k) ? 0.5 : 0
            v[i, j, k] = 0.3 + 0.05 * Float(i) + 0.03 * Float(j) - 0.02 * Float(k) + inner
        } } }
        var spec = AugmentSpec(.motion)
        spec.translation = [3]
        for seed: UInt64 in [4, 5] {
            let (m, rec) = try run(spec, Sample(image: v), seed: seed)
            let p = rec[0].parameters
            let times = p["times"]!, degrees = p["degrees"]!, shifts = p["translation"]!
            XCTAssertEqual(times.count, 2)
            XCTAssertEqual(degrees.count, 6)
            let bounds = [0] + times.map { ($0 * Double(n)).rounded() } + [Double(n)]
            let script = """
                from scipy import ndimage
                x = load(0).reshape((\(n), \(n), \(n)), order='F')
                deg, tr, bounds = load(1).reshape(-1, 3), load(2).reshape(-1, 3), load(3).astype(int)
                def rotation(d):
                    a, b, g = np.radians(d)
                    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
                    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
                    rz = np.array([[np.cos(g), -np.sin(g), 0], [np.sin(g), np.cos(g), 0], [0, 0, 1]])
                    return rz @ ry @ rx
                c = (np.array(x.shape) - 1) / 2
                k = np.fft.fftshift(np.fft.fftn(x), axes=2)
                for m in range(len(deg)):
                    L = rotation(deg[m])
                    moved = ndimage.affine_transform(x, L, offset=c + tr[m] - L @ c, order=1, mode='constant', cval=0)
                    km = np.fft.fftshift(np.fft.fftn(moved), axes=2)
                    k[:, :, bounds[m + 1]:bounds[m + 2]] = km[:, :, bounds[m + 1]:bounds[m + 2]]
                save(0, np.abs(np.fft.ifftn(np.fft.ifftshift(k, axes=2))))
                """
            guard let o = Oracle.run(script, inputs: [v.voxels.map(Double.init), degrees, shifts, bounds], outputs: 1) else { return }
            assertClose(m.image.voxels, o[0], atol: 1e-3, "motion seed \(seed) vs its definition: \(p)")
            // The moves changed the image (this is not the identity).
            XCTAssertGreaterThan(maxAbsError(m.image.voxels, v.voxels), 0.05, "seed \(seed): \(p)")
        }
    }

    /// Spike, ghosting and undersampling take shortcuts (a plane wave; 1D transforms along one
    /// axis): they must equal the definition with full 3D transforms.
    func testKSpaceShortcutsEqualFull3DDefinition() throws {
        let sample = labelledSample([12, 10, 9])
        let dims = sample.image.shape3
        func shifted(_ p: Int, _ n: Int) -> Int { (p - n / 2 + n) % n }
        // Spike.
        let (sp, rec) = try run(AugmentSpec(.spike), sample, seed: 8)
        let pos = rec[0].parameters["positions"]!.map { Int($0) }, amp = rec[0].parameters["intensity"]![0]
        var k = ComplexVolume(dims: dims, re: sample.image.voxels)
        k.fft()
        let peak = (0..<k.re.count).map { (k.re[$0] * k.re[$0] + k.im[$0] * k.im[$0]).squareRoot() }.max()!
        k.re[shifted(pos[0], 12) + 12 * (shifted(pos[1], 10) + 10 * shifted(pos[2], 9))] += Float(amp) * peak
        k.fft(inverse: true)
        assertClose(sp.image.voxels, k.magnitude.map(Double.init), atol: 2e-3, "spike vs 3D definition")
        // Ghosting and undersampling: factor per shifted index along one axis.
        for kind in [AugmentKind.ghosting, .undersample] {
            let (g, gr) = try run(AugmentSpec(kind), sample, seed: 9)
            let axis = Int(gr[0].parameters["axis"]![0]), n = dims[axis]
            var factors = [Double](repeating: 1, count: n)
            if kind == .ghosting {
                let ghosts = Int(gr[0].parameters["ghosts"]![0]), intensity = gr[0].parameters["intensity"]![0]
                for p in 0..<n where p % ghosts == 0 && p != n / 2 { factors[p] = 1 - intensity }
            } else {
                factors = gr[0].parameters["lines"]!
            }
            var c = ComplexVolume(dims: dims, re: sample.image.voxels)
            c.fft()
            let stride = [1, 12, 120][axis]
            for idx in 0..<c.re.count {
                let u = (idx / stride) % n
                let f = Float(factors[(u + n / 2) % n])
                c.re[idx] *= f
                c.im[idx] *= f
            }
            c.fft(inverse: true)
            assertClose(g.image.voxels, c.magnitude.map(Double.init), atol: 2e-3, "\(kind) vs 3D definition")
        }
    }

    /// The ziggurat sampler is standard normal: moments, tails, and scipy's Kolmogorov–Smirnov test.
    func testZigguratIsStandardNormal() {
        var g = SeededGenerator(seed: 99)
        var x = [Double]()
        Ziggurat.fill(200_000, &g) { _, v in x.append(Double(v)) }
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        let kurtosis = x.reduce(0) { $0 + pow($1 - mean, 4) } / n / (variance * variance)
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(variance, 1, accuracy: 0.01)
        XCTAssertEqual(kurtosis, 3, accuracy: 0.05)
        XCTAssertEqual(Double(x.filter { abs($0) > 3 }.count) / n, 0.0027, accuracy: 0.0006)
        XCTAssertGreaterThan(x.map(abs).max()!, 3.8, "the tail beyond the base layer is sampled")
        guard let o = Oracle.run("from scipy import stats\nsave(0, [stats.kstest(load(0), 'norm').pvalue])", inputs: [Array(x.prefix(20000))], outputs: 1) else { return }
        XCTAssertGreaterThan(o[0][0], 0.001, "Kolmogorov–Smirnov p-value")
    }
}
