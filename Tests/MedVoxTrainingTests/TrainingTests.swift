import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxInference
import MedVoxNN
import MedVoxTensor
import MedVoxTransforms
import XCTest

@testable import MedVoxTraining

/// A tiny synthetic segmentation case: a ball (label 1) with a smaller ball inside (label 2) in a
/// `n`³ volume; the image is the label scaled plus seeded noise.
func syntheticCase(n: Int = 16, seed: UInt64, id: String = "c") -> PreparedCase {
    var rng = SeededGenerator(seed: seed)
    let c = Double(n - 1) / 2 + rng.uniform(-1.5, 1.5)
    var label = Volume(dims: [n, n, n], spacing: [2, 2, 2])
    var image = label
    for k in 0..<n {
        for j in 0..<n {
            for i in 0..<n {
                let r = ((Double(i) - c) * (Double(i) - c) + (Double(j) - c) * (Double(j) - c) + (Double(k) - c) * (Double(k) - c)).squareRoot()
                let l: Float = r < Double(n) / 6 ? 2 : (r < Double(n) / 3 ? 1 : 0)
                label[i, j, k] = l
                image[i, j, k] = l * 0.4 + Float(rng.normal() * 0.05)
            }
        }
    }
    return PreparedCase(id: id, image: image, label: label)
}

func tinyConfig(steps: Int) -> TrainingConfig {
    var c = TrainingConfig(task: .segmentation, spatialRank: 3, classes: 3, features: [4, 8], patch: [8, 8, 8], steps: steps)
    c.batchSize = 2
    c.learningRate = 1e-2
    c.validateEvery = 3
    c.seed = 11
    return c
}

final class TrainingTests: XCTestCase {
    func testSplitIsDeterministicByCase() {
        let ids = (0..<10).map { "case\($0)" }
        let a = TrainingData.split(ids: ids, validationFraction: 0.2, seed: 3)
        let b = TrainingData.split(ids: ids, validationFraction: 0.2, seed: 3)
        XCTAssertEqual(a.train, b.train)
        XCTAssertEqual(a.validation, b.validation)
        XCTAssertEqual(a.validation.count, 2)
        XCTAssertEqual(Set(a.train + a.validation), Set(0..<10))
        // The split follows the case names, not the order they were listed in.
        let shuffled = Array(ids.reversed())
        let c = TrainingData.split(ids: shuffled, validationFraction: 0.2, seed: 3)
        XCTAssertEqual(Set(c.validation.map { shuffled[$0] }), Set(a.validation.map { ids[$0] }))
        // Another seed gives another split (for these ten cases and seeds).
        let d = TrainingData.split(ids: ids, validationFraction: 0.2, seed: 4)
        XCTAssertNotEqual(d.validation, a.validation)
        // One case: nothing held out; tiny fractions still hold out one case of two or more.
        XCTAssertEqual(TrainingData.split(ids: ["only"], validationFraction: 0.5, seed: 1).validation, [])
        XCTAssertEqual(TrainingData.split(ids: ["a", "b", "c"], validationFraction: 0.01, seed: 1).validation.count, 1)
    }

    func testForegroundOversampling() {
        // A single labelled voxel far from the centre in a 40³ volume: random 8³ patches rarely hold it.
        let dims = [40, 40, 40]
        let fgIndex = 3 + 40 * (5 + 40 * 30)
        let sampler = PatchSampler(patch: [8, 8, 8])
        var rng = SeededGenerator(seed: 5)
        var forced = 0, containing = 0
        let total = 300
        for n in 0..<total {
            let fg = sampler.isForeground(sampleIndex: n)
            if fg { forced += 1 }
            let box = sampler.box(dims: dims, foreground: [Int32(fgIndex)], centredOnForeground: fg, rng: &rng)
            XCTAssertTrue((0..<3).allSatisfy { box.start[$0] >= 0 && box.start[$0] + 8 <= 40 })
            let inside = box.start[0] <= 3 && 3 < box.start[0] + 8 && box.start[1] <= 5 && 5 < box.start[1] + 8
                && box.start[2] <= 30 && 30 < box.start[2] + 8
            if inside { containing += 1 }
            if fg { XCTAssertTrue(inside, "foreground-centred patch \(n) misses the labelled voxel") }
        }
        XCTAssertEqual(forced, total / 3)
        let fraction = Double(containing) / Double(total)
        XCTAssertGreaterThanOrEqual(fraction, 1.0 / 3)
        XCTAssertLessThan(fraction, 0.45)  // random patches contain it with probability ≈ 0.8%
    }

    func testExamplesDoNotDependOnThreadCount() throws {
        let aug = try AugmentPipeline.parse(spec: "flip,affine,elastic@0.5,bias_field,noise")
        let src = ExampleSource(kind: .segmentation(cases: [syntheticCase(seed: 1)], sampler: PatchSampler(patch: [8, 8, 8])),
                                augmentation: aug, margin: [2, 2, 2])
        let saved = Runtime.threads
        defer { Runtime.threads = saved }
        Runtime.threads = 1
        let one = try (0..<4).map { try src.example($0, seed: 9) }
        Runtime.threads = 2
        let two = try (0..<4).map { try src.example($0, seed: 9) }
        for (a, b) in zip(one, two) {
            XCTAssertEqual(a.image, b.image)
            XCTAssertEqual(a.labels, b.labels)
        }
        XCTAssertNotEqual(one[0].image, one[1].image)
    }

    func testTemperatureScalingMatchesTheClosedForm() {
        // Two classes, logit 10 on the predicted class, right 70% of the time: the NLL is minimal
        // where softmax gives the predicted class 0.7, i.e. 10 / T = log(0.7 / 0.3).
        var logits: [[Double]] = [], truth: [Int] = []
        for i in 0..<100 {
            let y = i % 2, predicted = i % 10 < 7 ? y : 1 - y
            var z = [0.0, 0.0]
            z[predicted] = 10
            logits.append(z)
            truth.append(y)
        }
        XCTAssertEqual(fitTemperature(logits: logits, truth: truth), 10 / Foundation.log(7.0 / 3.0), accuracy: 1e-3)
    }

    /// The fitted temperature is kept only when it lowers the ECE: kept for uniformly overconfident
    /// logits, dropped where the likelihood's optimum miscalibrates a calibrated majority.
    func testTemperatureKeptOnlyWhenItLowersECE() {
        func logits(_ groups: [(n: Int, margin: Double, right: Int)]) -> ([[Double]], [Int]) {
            var l: [[Double]] = [], t: [Int] = []
            for g in groups {
                for i in 0..<g.n {
                    let y = i % 2, predicted = i < g.right ? y : 1 - y
                    var z = [0.0, 0.0]
                    z[predicted] = g.margin
                    l.append(z)
                    t.append(y)
                }
            }
            return (l, t)
        }
        // Confidence ≈ 1, right 70% of the time: T brings the confidence to 0.7.
        let (over, overTruth) = logits([(100, 10, 70)])
        let a = TemperatureChoice(logits: over, truth: overTruth, classes: 2)
        XCTAssertEqual(a.uncalibratedECE, 0.3, accuracy: 1e-3)
        XCTAssertLessThan(a.fittedECE, 0.01)
        XCTAssertEqual(a.kept, a.fitted)
        // 80 calibrated items (confidence 0.6, 60% right) and 20 underconfident right ones
        // (confidence 0.88): the likelihood wants T ≈ 0.64, which pushes the 80 to 0.65.
        let (mixed, mixedTruth) = logits([(20, 2, 20), (80, Foundation.log(1.5), 48)])
        let b = TemperatureChoice(logits: mixed, truth: mixedTruth, classes: 2)
        XCTAssertEqual(b.fitted, 0.643, accuracy: 0.01)
        XCTAssertEqual(b.uncalibratedECE, 0.0238, accuracy: 1e-3)
        XCTAssertGreaterThan(b.fittedECE, 0.04)
        XCTAssertNil(b.kept)
    }

    func testTinyTrainingRunLearns() throws {
        var cfg = tinyConfig(steps: 80)
        cfg.validateEvery = 40
        let train = [syntheticCase(seed: 1, id: "a"), syntheticCase(seed: 2, id: "b")]
        let val = [syntheticCase(seed: 3, id: "v")].map { HeldOutItem(image: $0.image, label: $0.label) }
        let src = ExampleSource(kind: .segmentation(cases: train, sampler: PatchSampler(patch: [8, 8, 8])), augmentation: AugmentPipeline(transforms: []))
        let trainer = try Trainer(config: cfg, source: src, validation: val, labelNames: ["bg", "outer", "inner"])
        trainer.progressLabel = nil
        let before = try trainer.validationScore()!
        let out = try trainer.train()
        let losses = out.log.map(\.loss)
        let first = losses.prefix(5).reduce(0, +) / 5, last = losses.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(last, 0.7 * first, "loss \(first) → \(last)")
        XCTAssertEqual(out.stepsDone, 80)
        XCTAssertGreaterThan(out.bestScore!, before)
        XCTAssertGreaterThan(out.bestScore!, 0.5)
    }

    func testResumeReproducesUninterruptedRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medvox-resume-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cfg = tinyConfig(steps: 6)
        let aug = try AugmentPipeline.parse(spec: "flip,affine@0.7,noise@0.5")
        let src = ExampleSource(kind: .segmentation(cases: [syntheticCase(seed: 1)], sampler: PatchSampler(patch: [8, 8, 8])),
                                augmentation: aug, margin: [2, 2, 2])
        let val = [HeldOutItem(image: syntheticCase(seed: 3).image, label: syntheticCase(seed: 3).label)]
        func trainer(_ name: String) throws -> Trainer {
            let t = try Trainer(config: cfg, source: src, validation: val, labelNames: ["bg", "outer", "inner"])
            t.checkpointPath = "\(dir)/\(name).ckpt"
            t.logPath = "\(dir)/\(name).log.csv"
            t.progressLabel = nil
            return t
        }
        let whole = try trainer("whole").train()
        let first = try trainer("parts")
        first.stopAfterSteps = 4  // "killed" after step 4; the last checkpoint is from step 3
        _ = try first.train()
        let resumed = try trainer("parts")
        let rest = try resumed.train(resume: true)
        XCTAssertEqual(rest.stepsDone, 6)
        XCTAssertEqual(resumed.net.stateDict(), try resumedWhole(dir))
        XCTAssertEqual(rest.bestState, whole.bestState)
        XCTAssertEqual(rest.log.map(\.loss), whole.log.map(\.loss))
        // A checkpoint from other settings is refused.
        var other = cfg
        other.learningRate = 0.5
        let wrong = try Trainer(config: other, source: src, validation: val, labelNames: ["bg", "outer", "inner"])
        wrong.checkpointPath = "\(dir)/parts.ckpt"
        wrong.progressLabel = nil
        XCTAssertThrowsError(try wrong.train(resume: true)) { XCTAssertTrue("\($0)".contains("different settings")) }
    }

    /// The final weights of the uninterrupted run, as saved in its checkpoint.
    func resumedWhole(_ dir: String) throws -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (k, v) in try Safetensors.read(path: "\(dir)/whole.ckpt").tensors where k.hasPrefix("model.") { d[String(k.dropFirst(6))] = v }
        return d
    }
}

/// End-to-end runs of `TrainingRun` on tiny data written to a temporary folder.
final class TrainingRunTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("medvox-run-\(getpid())-\(name.hashValue)").path
        try FileManager.default.createDirectory(atPath: "\(dir)/task/imagesTr", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(dir)/task/labelsTr", withIntermediateDirectories: true)
        for n in 0..<3 {
            let c = syntheticCase(seed: UInt64(n + 1))
            try ImageFile.write(c.image, to: "\(dir)/task/imagesTr/case\(n)_0000.nii.gz")
            try ImageFile.write(c.label!, to: "\(dir)/task/labelsTr/case\(n).nii.gz", as: .uint8)
        }
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testSegmentationFolderRunWritesLoadableModel() throws {
        var cfg = tinyConfig(steps: 6)
        cfg.validateEvery = 3
        var r = TrainingRequest(config: cfg, outputStem: "\(dir)/tiny", augmentation: try AugmentPipeline.parse(spec: "flip,noise@0.5"),
                                heldOutAugmentation: AugmentPipeline(transforms: []), command: "medvox train (test)")
        r.data = "\(dir)/task"
        r.labelNames = ["background", "outer", "inner"]
        r.validationFraction = 0.34
        var s = SearchSpec(mode: .grid, learningRates: [1e-2, 3e-3], weightDecays: [0], widths: [4], depths: [2])
        s.steps = 2
        r.search = s
        var lines: [String] = []
        let card = try TrainingRun.run(r) { lines.append($0) }
        XCTAssertEqual(card.task, .segmentation)
        XCTAssertEqual(card.architecture.features, [4, 8])
        XCTAssertEqual(card.training?.command, "medvox train (test)")
        XCTAssertTrue(card.training!.data.contains("case0_0000.nii.gz sha256 "), card.training!.data)
        XCTAssertTrue(card.evaluation!.data.contains("held-out case"), card.evaluation!.data)
        XCTAssertNotNil(card.evaluation!.metrics["dice.mean"])
        XCTAssertNotNil(card.training!.recipe["search.table"])
        XCTAssertEqual(lines.count, 3)  // header + two trials
        let table = try String(contentsOfFile: "\(dir)/tiny.search.csv", encoding: .utf8)
        XCTAssertEqual(table.split(separator: "\n").count, 3)
        // The card loads as a model (checksum and architecture checked) and segments.
        let model = try LoadedModel.load("\(dir)/tiny.json")
        let unet = try XCTUnwrap(model.network as? UNet)
        let pred = try predictLabels(unet, syntheticCase(seed: 9).image, patch: [8, 8, 8])
        XCTAssertEqual(pred.shape3, [16, 16, 16])
        // The log has one row per step.
        let log = try String(contentsOfFile: "\(dir)/tiny.log.csv", encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").count, 7)
    }

    /// A random search draws other hyper-parameters for each trial, within the given ranges, and
    /// the model is then trained with the trial of the best validation score in the search table.
    func testRandomSearchKeepsTheBestTrial() throws {
        var r = TrainingRequest(config: tinyConfig(steps: 4), outputStem: "\(dir)/searched", augmentation: AugmentPipeline(transforms: []),
                                heldOutAugmentation: AugmentPipeline(transforms: []), command: "medvox train (test)")
        r.data = "\(dir)/task"
        r.labelNames = ["background", "outer", "inner"]
        r.validationFraction = 0.34
        var s = SearchSpec(mode: .random, learningRates: [1e-3, 3e-2], weightDecays: [1e-5, 1e-3], widths: [4, 6], depths: [2])
        s.trials = 3
        s.steps = 8
        r.search = s
        let card = try TrainingRun.run(r) { _ in }
        let table = try String(contentsOfFile: "\(dir)/searched.search.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(table.first, "lr,weight_decay,width,depth,val_score,seconds")
        let rows = Array(table.dropFirst())
        XCTAssertEqual(rows.count, 3)
        let fields = rows.map { $0.split(separator: ",").map(String.init) }
        let lrs = fields.map { Double($0[0])! }, wds = fields.map { Double($0[1])! }, scores = fields.map { Double($0[4])! }
        XCTAssertEqual(Set(lrs).count, 3, "learning rates drawn: \(lrs)")
        XCTAssertEqual(Set(wds).count, 3, "weight decays drawn: \(wds)")
        XCTAssertTrue(lrs.allSatisfy { (1e-3...3e-2).contains($0) }, "\(lrs)")
        XCTAssertTrue(wds.allSatisfy { (1e-5...1e-3).contains($0) }, "\(wds)")
        XCTAssertTrue(fields.allSatisfy { ["4", "6"].contains($0[2]) && $0[3] == "2" }, "\(rows)")
        // The kept trial is a row of the table with the best score, and the model was trained with it.
        let recipe = card.training!.recipe
        let search = try XCTUnwrap(recipe["search"])
        let kept = String(search[try XCTUnwrap(search.range(of: "best: ")).upperBound...])
        XCTAssertTrue(rows.contains(kept), "\(kept) not in \(rows)")
        let k = kept.split(separator: ",").map(String.init)
        XCTAssertEqual(Double(k[4]), scores.max(), "kept \(kept) of \(rows)")
        XCTAssertEqual(card.architecture.features, featuresFor(width: Int(k[2])!, depth: Int(k[3])!))
        let lr = Double(recipe["lr"]!.split(separator: " ")[0])!, wd = Double(recipe["weightDecay"]!)!
        XCTAssertEqual(String(format: "%.3g", lr), k[0], recipe["lr"]!)
        XCTAssertEqual(String(format: "%.3g", wd), k[1], recipe["weightDecay"]!)
    }

    func testBadDataNamesTheFile() throws {
        try FileManager.default.removeItem(atPath: "\(dir)/task/labelsTr/case1.nii.gz")
        XCTAssertThrowsError(try TrainingData.segmentationFolder("\(dir)/task")) { e in
            XCTAssertTrue("\(e)".contains("case1_0000.nii.gz"), "\(e)")
            XCTAssertTrue(e is MedVoxError)
        }
        try "not a nifti".write(toFile: "\(dir)/task/labelsTr/case1.nii.gz", atomically: true, encoding: .utf8)
        var r = TrainingRequest(config: tinyConfig(steps: 1), outputStem: "\(dir)/bad", augmentation: AugmentPipeline(transforms: []),
                                heldOutAugmentation: AugmentPipeline(transforms: []), command: "x")
        r.data = "\(dir)/task"
        XCTAssertThrowsError(try TrainingRun.run(r) { _ in }) { e in XCTAssertTrue("\(e)".contains("case1.nii.gz"), "\(e)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/bad.json"))
        // Labels outside the class range are refused.
        var label = syntheticCase(seed: 1).label!
        label[0, 0, 0] = 7
        try ImageFile.write(label, to: "\(dir)/task/labelsTr/case1.nii.gz", as: .uint8)
        XCTAssertThrowsError(try TrainingRun.run(r) { _ in }) { e in XCTAssertTrue("\(e)".contains("label value 7"), "\(e)") }
    }

    /// Label maps alone (SynthSeg-style): each example's image is synthesised from its labels with
    /// random per-label intensities, and the network learns to segment such images: on a fixed
    /// seed the training loss falls, and mean Dice on held-out synthesised variants (seeds training
    /// never draws) rises from the untrained network's to well above chance (a uniformly random
    /// labelling, whose expected Dice for a class of fraction f among C is 2f/C / (f + 1/C)).
    func testSynthFromLabelsLearnsAndClassificationCSV() throws {
        var cfg = tinyConfig(steps: 500)
        cfg.validateEvery = 500
        var r = TrainingRequest(config: cfg, outputStem: "\(dir)/synth", augmentation: AugmentPipeline(transforms: []),
                                heldOutAugmentation: AugmentPipeline(transforms: []), command: "x")
        r.synthFrom = "\(dir)/task/labelsTr"
        r.spacing = [2, 2, 2]
        let data = try TrainingRun.prepare(r)
        XCTAssertEqual(data.source.augmentation.transforms.first?.transform, .labelSynthesis)
        let e0 = try data.source.example(0, seed: 1)
        XCTAssertNotEqual(e0.image, e0.labels!)  // synthesised, not the label map
        let trainer = try Trainer(config: cfg, source: data.source, validation: data.validation, labelNames: data.labelNames)
        trainer.progressLabel = nil
        let before = try XCTUnwrap(trainer.validationScore())
        let out = try trainer.train()
        let losses = out.log.map(\.loss)
        let first = losses.prefix(10).reduce(0, +) / 10, last = losses.suffix(10).reduce(0, +) / 10
        XCTAssertLessThan(last, 0.8 * first, "loss \(first) → \(last)")
        var chance = 0.0
        for item in data.validation {
            let labels = item.label!.voxels, c = Double(cfg.classes)
            for k in 1..<cfg.classes {
                let f = Double(labels.filter { Int($0) == k }.count) / Double(labels.count)
                chance += 2 * f / c / (f + 1 / c) / Double((cfg.classes - 1) * data.validation.count)
            }
        }
        // Measured (seed 11, 500 steps): untrained 0.110, chance 0.113, trained 0.351.
        let after = try XCTUnwrap(out.bestScore)
        XCTAssertGreaterThan(after, max(2.5 * chance, before + 0.15), "held-out synthesised Dice \(before) → \(after), chance \(chance)")
        // The whole run on label maps: evaluated on synthesised variants.
        r.config.steps = 2
        r.config.validateEvery = 2
        let synthCard = try TrainingRun.run(r) { _ in }
        XCTAssertTrue(synthCard.evaluation!.data.contains("augmented variant(s)"), synthCard.evaluation!.data)
        XCTAssertTrue(synthCard.training!.recipe["augmentation"]!.contains("label_synthesis"), synthCard.training!.recipe["augmentation"]!)
        // Classification from a CSV of path,label.
        var csv = "path,label\n"
        for n in 0..<3 { csv += "task/imagesTr/case\(n)_0000.nii.gz,\(n == 0 ? "a" : "b")\n" }
        try csv.write(toFile: "\(dir)/cases.csv", atomically: true, encoding: .utf8)
        var c = TrainingConfig(task: .classification, spatialRank: 3, classes: 2, features: [4, 8], patch: [16, 16, 16], steps: 2)
        c.validateEvery = 2
        var rc = TrainingRequest(config: c, outputStem: "\(dir)/clf", augmentation: AugmentPipeline(transforms: []),
                                 heldOutAugmentation: AugmentPipeline(transforms: []), command: "x")
        rc.data = "\(dir)/cases.csv"
        rc.inputShape = [16, 16, 16]
        let card = try TrainingRun.run(rc) { _ in }
        XCTAssertEqual(card.labels.map(\.name), ["a", "b"])
        XCTAssertEqual(card.architecture.kind, "resnet")
        XCTAssertNotNil(card.evaluation?.confusion)
        XCTAssertNotNil(card.calibration)
        XCTAssertNoThrow(try LoadedModel.load("\(dir)/clf.json"))
    }
}
