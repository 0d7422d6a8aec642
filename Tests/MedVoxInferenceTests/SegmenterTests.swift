import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxNN
import MedVoxTensor
import MedVoxTestSupport
import MedVoxTransforms
import XCTest

@testable import MedVoxInference

/// Writes a tiny random model (card + safetensors) into `dir` and returns the card path.
func writeTinyModel(
    in dir: ScratchDirectory, name: String = "tiny", task: ModelCard.Task = .segmentation, rank: Int = 3,
    classes: Int = 3, patch: [Int] = [8, 8, 8], steps: [PreprocessStep] = [], seed: UInt64 = 7,
    temperature: Double? = nil, postprocessing: ModelCard.PostprocessSpec? = nil
) throws -> String {
    let arch: ModelCard.Architecture = task == .segmentation
        ? .init(kind: "unet", spatialRank: rank, inChannels: 1, classes: classes, features: [2, 4])
        : .init(kind: "resnet", spatialRank: rank, inChannels: 1, classes: classes, widths: [2, 4])
    var card = ModelCard(
        name: name, version: "0.0.1", task: task, architecture: arch,
        labels: (0..<classes).map { .init(value: $0 == 0 ? 0 : $0 * 10, name: "class\($0)") },
        input: .init(modality: "MR", spacing: [1, 1, 1], patchSize: patch),
        preprocessing: PreprocessPipeline(steps: steps), weights: .init(file: "\(name).safetensors", sha256: ""))
    card.calibration = temperature.map { .init(temperature: $0) }
    card.postprocessing = postprocessing
    var rng = SeededGenerator(seed: seed)
    let net = card.makeNetwork(rng: &rng)
    // Non-trivial norm affine parameters so that every layer matters.
    for (n, p) in net.namedParameters() where n.contains("norm") {
        p.value = Tensor(shape: p.shape, storage: p.value.storage.indices.map { _ in Float.random(in: 0.5...1.5, using: &rng) })
    }
    let weights = dir.path("\(name).safetensors")
    try Safetensors.write(net.stateDict(), to: weights)
    card.weights.sha256 = SHA256.hash([UInt8](try Data(contentsOf: URL(fileURLWithPath: weights)))).hex
    let path = dir.path("\(name).json")
    try card.encoded().write(to: URL(fileURLWithPath: path))
    return path
}

func randomVolume(dims: [Int], seed: UInt64, spacing: [Double] = [1, 1, 1], affine: Affine? = nil) -> Volume {
    var rng = SeededGenerator(seed: seed)
    let n = dims.reduce(1, *)
    return Volume(dims: dims, spacing: spacing, affine: affine, voxels: (0..<n).map { _ in Float.random(in: -1...1, using: &rng) })
}

final class SegmenterTests: XCTestCase {
    func softmaxChannels(_ t: Tensor) -> [Float] {
        let k = t.shape[1], n = t.count / k
        var out = [Float](repeating: 0, count: t.count)
        for v in 0..<n {
            let l = (0..<k).map { t.storage[$0 * n + v] }
            let m = l.max()!
            let e = l.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            for c in 0..<k { out[c * n + v] = e[c] / s }
        }
        return out
    }

    /// One window covering the whole volume: the sliding window's probabilities equal a plain
    /// whole-volume forward pass.
    func testOneWindowEqualsWholeVolumeForward() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let model = try LoadedModel.load(try writeTinyModel(in: dir, patch: [16, 16, 16]))
        var opt = SegmentationOptions()
        opt.probabilities = true
        let seg = try Segmenter(model: model, options: opt)
        let dims = [8, 6, 10]
        let v = randomVolume(dims: dims, seed: 3)
        XCTAssertEqual(try seg.chooseWindow(dims: dims), dims)
        let run = try seg.slidingWindow(image: v.voxels, dims: dims, window: dims)
        XCTAssertEqual(run.windowCount, 1)
        let unet = model.network as! UNet
        let logits = withoutGradients { unet(Variable(Tensor(volume: v))).value }
        let expected = softmaxChannels(logits)
        assertClose(run.probabilities!, expected, rtol: 1e-5, atol: 1e-5)
        // Argmax agrees with the probabilities.
        let n = dims.reduce(1, *)
        for i in 0..<n {
            let best = (0..<3).max { expected[$0 * n + i] < expected[$1 * n + i] }!
            XCTAssertEqual(Int(run.labels[i]), best)
        }
    }

    /// Slab-by-slab finalisation is bit-identical to accumulating full-volume logits first, for
    /// patch windows (padding, uneven steps) and for budget-limited windows.
    func testStreamingEqualsFullLogitsExactly() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let model = try LoadedModel.load(try writeTinyModel(in: dir, patch: [8, 8, 8]))
        let dims = [13, 9, 21]
        let v = randomVolume(dims: dims, seed: 5)
        for window in [SegmentationOptions.Window.patch, .fixed([6, 10, 4])] {
            var opt = SegmentationOptions()
            opt.window = window
            opt.probabilities = true
            opt.overlap = 0.5
            let streaming = try Segmenter(model: model, options: opt)
            opt.streaming = false
            let naive = try Segmenter(model: model, options: opt)
            let w = try streaming.chooseWindow(dims: dims)
            XCTAssertEqual(try naive.chooseWindow(dims: dims), w)
            let a = try streaming.slidingWindow(image: v.voxels, dims: dims, window: w)
            let b = try naive.slidingWindow(image: v.voxels, dims: dims, window: w)
            XCTAssertGreaterThan(a.windowCount, 4)
            XCTAssertEqual(a.labels, b.labels)
            XCTAssertEqual(a.probabilities!, b.probabilities!)
            XCTAssertLessThan(a.accumulatorBytes, b.accumulatorBytes)
            // Not a degenerate answer: several classes occur.
            XCTAssertGreaterThan(Set(a.labels).count, 1)
        }
    }

    /// Mirroring TTA is equivariant: segmenting a mirrored volume gives the mirrored result; and
    /// it changes the result compared with no TTA.
    func testTTAIsMirrorEquivariant() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let model = try LoadedModel.load(try writeTinyModel(in: dir, patch: [8, 8, 8]))
        var opt = SegmentationOptions()
        opt.tta = true
        opt.probabilities = true
        let seg = try Segmenter(model: model, options: opt)
        let dims = [8, 8, 8]
        let v = randomVolume(dims: dims, seed: 9)
        let x = Tensor(volume: v)
        for axes in [[4], [3], [2], [2, 3, 4]] {
            let mirrored = flipped(x, axes: axes)
            let a = try seg.slidingWindow(image: x.storage, dims: dims, window: dims)
            let b = try seg.slidingWindow(image: mirrored.storage, dims: dims, window: dims)
            let pa = Tensor(shape: [1, 3] + [8, 8, 8], storage: a.probabilities!)
            assertClose(b.probabilities!, flipped(pa, axes: axes).storage, rtol: 1e-5, atol: 1e-6, "axes \(axes)")
        }
        opt.tta = false
        let plain = try Segmenter(model: model, options: opt).slidingWindow(image: x.storage, dims: dims, window: dims)
        let tta = try seg.slidingWindow(image: x.storage, dims: dims, window: dims)
        XCTAssertTrue(tta.probabilities!.allSatisfy(\.isFinite) && plain.probabilities!.allSatisfy(\.isFinite))
        XCTAssertGreaterThan(maxAbsError(plain.probabilities!, tta.probabilities!), 1e-3)
    }

    /// A 2D model runs slice by slice: each axial slice's result is the 2D network on that slice.
    func test2DModelRunsSliceBySlice() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let model = try LoadedModel.load(try writeTinyModel(in: dir, rank: 2, patch: [8, 8]))
        var opt = SegmentationOptions()
        opt.probabilities = true
        let seg = try Segmenter(model: model, options: opt)
        let dims = [8, 6, 3]
        let v = randomVolume(dims: dims, seed: 11)
        let w = try seg.chooseWindow(dims: dims)
        XCTAssertEqual(w, [8, 6, 1])
        let run = try seg.slidingWindow(image: v.voxels, dims: dims, window: w)
        let unet = model.network as! UNet
        let plane = 48
        for z in 0..<3 {
            let slice = Array(v.voxels[(z * plane)..<((z + 1) * plane)])
            let logits = withoutGradients { unet(Variable(Tensor(shape: [1, 1, 6, 8], storage: slice))).value }
            let p = softmaxChannels(logits)
            let all = run.probabilities!
            var got: [Float] = []
            for c in 0..<3 {
                let start: Int = c * 144 + z * plane
                got += all[start..<(start + plane)]
            }
            assertClose(got, p, rtol: 1e-5, atol: 1e-6, "slice \(z)")
        }
    }

    /// The memory budget shrinks windows; a budget too small for the smallest window is an error.
    func testMemoryBudgetCapsTheWindow() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let model = try LoadedModel.load(try writeTinyModel(in: dir, patch: [8, 8, 8]))
        var opt = SegmentationOptions()
        opt.window = .largest
        let dims = [64, 64, 64]
        opt.memoryBudget = 1 << 34
        XCTAssertEqual(try Segmenter(model: model, options: opt).chooseWindow(dims: dims), dims)
        // Half of what the whole grid's pass needs.
        let budget = try Segmenter(model: model, options: opt).forwardBytes(window: dims) / 2
        opt.memoryBudget = budget
        let seg = try Segmenter(model: model, options: opt)
        let w = try seg.chooseWindow(dims: dims)
        XCTAssertLessThan(w.reduce(1, *), dims.reduce(1, *))
        XCTAssertTrue(w.allSatisfy { $0 % 2 == 0 })
        XCTAssertLessThanOrEqual(seg.forwardBytes(window: w), budget)
        // Whatever the budget, `.largest` stays within its voxel cap (a grid beyond it is split).
        opt.memoryBudget = 1 << 40
        let big = [256, 256, 128]
        let capped = try Segmenter(model: model, options: opt).chooseWindow(dims: big)
        XCTAssertLessThanOrEqual(capped.reduce(1, *), Segmenter.largestWindowVoxels)
        XCTAssertLessThan(capped.reduce(1, *), big.reduce(1, *))
        opt.memoryBudget = 1000
        XCTAssertThrowsError(try Segmenter(model: model, options: opt).chooseWindow(dims: dims)) {
            XCTAssertTrue("\($0)".contains("--max-memory"), "\($0)")
        }
    }

    /// The mask has the input's exact grid (nibabel reads the same shape, affine and values), also
    /// when preprocessing reorients and resamples an oblique, anisotropic input.
    func testMaskGeometryMatchesInputViaNibabel() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let steps: [PreprocessStep] = [.reorient("RAS"), .resample(spacing: [1, 1, 1]), .zscore()]
        let model = try LoadedModel.load(try writeTinyModel(in: dir, patch: [8, 8, 8], steps: steps))
        // LPS-ish oblique affine, 1.5 × 1 × 2 mm voxels.
        let c: Double = 0.96, s: Double = 0.28
        let r0: [Double] = [-1.5 * c, 0, 2 * s, 30]
        let r1: [Double] = [0, -1, 0, 20]
        let r2: [Double] = [1.5 * s, 0, 2 * c, -10]
        let affine = Affine(rows: [r0, r1, r2, [0, 0, 0, 1]])
        var v = randomVolume(dims: [9, 11, 5], seed: 13, spacing: [1.5, 1, 2], affine: affine)
        v.voxels = v.voxels.map { $0 * 100 + 300 }
        let input = dir.path("t1.nii.gz"), maskPath = dir.path("mask.nii.gz")
        try ImageFile.write(v, to: input)
        let read = try ImageFile.read(input)
        let result = try Segmenter(model: model).segment(read, modality: "CT")
        XCTAssertEqual(result.mask.shape3, [9, 11, 5])
        XCTAssertTrue(result.warnings.contains { $0.contains("modality is CT") }, "\(result.warnings)")
        try ImageFile.write(result.mask, to: maskPath, as: .uint8)
        let out = try Python.run("""
            import sys, json, nibabel as nib, numpy as np
            img, m = nib.load(sys.argv[1]), nib.load(sys.argv[2])
            d = np.asarray(m.dataobj)
            print(json.dumps({"shape": list(m.shape), "dtype": str(d.dtype),
              "affine_err": float(np.abs(m.affine - img.affine).max()),
              "qform_err": float(np.abs(m.get_qform() - img.affine).max()),
              "values": d.flatten(order="F").astype(int).tolist()}))
            """, [input, maskPath])
        let j = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: Any]
        XCTAssertEqual(j["shape"] as? [Int], [9, 11, 5])
        XCTAssertEqual(j["dtype"] as? String, "uint8")
        XCTAssertLessThan(j["affine_err"] as! Double, 1e-4)
        XCTAssertLessThan(j["qform_err"] as! Double, 1e-3)
        XCTAssertEqual(j["values"] as? [Int], result.mask.voxels.map { Int($0) })
        XCTAssertTrue(Set(result.mask.voxels).isSubset(of: [0, 10, 20]))
    }

    /// Post-processing keeps the main foreground body and fills holes of the chosen labels.
    func testPostprocessing() {
        let dims = [7, 7, 7]
        var m = [Float](repeating: 0, count: 343)
        func o(_ i: Int, _ j: Int, _ k: Int) -> Int { i + 7 * (j + 7 * k) }
        for k in 1...4 { for j in 1...4 { for i in 1...4 { m[o(i, j, k)] = 2 } } }
        m[o(2, 2, 2)] = 0  // a hole inside label 2
        m[o(6, 6, 6)] = 1  // an island
        let p = postprocessLabelMap(m, dims: dims, spec: .init(largestForeground: true, fillHoles: [2]))
        XCTAssertEqual(p[o(6, 6, 6)], 0)
        XCTAssertEqual(p[o(2, 2, 2)], 2)
        XCTAssertEqual(p.filter { $0 == 2 }.count, 64)
        let q = postprocessLabelMap(m, dims: dims, spec: .init())
        XCTAssertEqual(q, m)
    }

    func testClassifierCalibration() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let v = randomVolume(dims: [8, 8, 8], seed: 17)
        let plain = try Classifier(model: try LoadedModel.load(try writeTinyModel(in: dir, name: "c1", task: .classification, classes: 4)))
        let hot = try Classifier(model: try LoadedModel.load(try writeTinyModel(in: dir, name: "c2", task: .classification, classes: 4, temperature: 2)))
        let a = try plain.classify(v), b = try hot.classify(v)
        XCTAssertEqual(a.rawProbabilities, b.rawProbabilities)
        XCTAssertEqual(a.probabilities, a.rawProbabilities)
        // Single-precision probabilities (the engine's softmax kernel): a few ulp of Float.
        XCTAssertEqual(a.probabilities.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(b.topIndex, a.topIndex)
        // Temperature 2: softmax(z / 2) ∝ sqrt(softmax(z)).
        let r = a.rawProbabilities.map { $0.squareRoot() }
        let expected = r.map { $0 / r.reduce(0, +) }
        assertClose(b.probabilities, expected, rtol: 1e-6, atol: 1e-9)
        XCTAssertLessThan(b.confidence, a.confidence)
        XCTAssertEqual(b.topClass, "class\(b.topIndex)")
        XCTAssertThrowsError(try Segmenter(model: plain.model)) { XCTAssertTrue("\($0)".contains("not a segmentation model")) }
    }
}
