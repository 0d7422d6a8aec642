import MedVoxCore
import MedVoxTransforms
import XCTest

@testable import MedVoxTraining

/// `medvox train`'s options as the library reads them: defaults, rules between options, and the
/// order in which problems are reported.
final class TrainingCommandLineTests: XCTestCase {
    struct Options: CommandOptions {
        var values: [String: String]
        var flags: Set<String> = []
        func value(_ name: String) -> String? { values[name] }
        func flag(_ name: String) -> Bool { flags.contains(name) }
    }

    func request(_ values: [String: String], flags: Set<String> = []) throws -> (request: TrainingRequest, inputs: [String]) {
        try TrainingCommandLine.request(Options(values: values, flags: flags), words: ["train", "--data", "my data"])
    }

    func message(_ values: [String: String]) -> String? {
        do {
            _ = try request(values)
            return nil
        } catch {
            return (error as? CommandOptionError)?.message ?? "\(type(of: error)): \(error)"
        }
    }

    func testSegmentationDefaults() throws {
        let (r, inputs) = try request(["task": "segment", "output": "Models/x.json", "data": "d", "labels": "bg, a", "steps": "10"])
        XCTAssertEqual(inputs, ["d"])
        XCTAssertEqual(r.outputStem, "Models/x")
        XCTAssertEqual(r.labelNames, ["bg", "a"])
        XCTAssertEqual(r.command, "medvox train --data 'my data'")
        let c = r.config
        XCTAssertEqual(c.task, .segmentation)
        XCTAssertEqual([c.spatialRank, c.classes, c.steps, c.batchSize, c.validateEvery, c.warmupSteps], [3, 2, 10, 2, 50, 0])
        XCTAssertEqual(c.patch, [64, 64, 64])
        XCTAssertEqual(c.features, [8, 16, 32, 64])
        XCTAssertEqual([c.learningRate, c.weightDecay], [1e-3, 1e-4])
        XCTAssertEqual([c.optimizer, c.schedule], ["adamw", "poly"])
        XCTAssertEqual(c.seed, 0)
        XCTAssertNil(c.patience)
        XCTAssertEqual(r.spacing, [2, 2, 2])
        XCTAssertNil(r.inputShape)
        XCTAssertEqual(r.validationFraction, 0.2)
        XCTAssertEqual([r.validationVariants, r.evaluationVariants], [2, 4])
        XCTAssertEqual(r.augmentation, AugmentRecipes.strong)
        XCTAssertEqual(r.heldOutAugmentation, AugmentRecipes.heldOut)
        XCTAssertNil(r.search)
    }

    func testClassificationOfArtefactsIn2D() throws {
        let (r, _) = try request([
            "task": "classify", "output": "m", "artefacts-from": "t1.nii", "dims": "2", "epochs": "3", "steps-per-epoch": "7",
            "spacing": "1.5", "search": "grid",
        ])
        XCTAssertEqual(r.config.task, .classification)
        XCTAssertEqual(r.labelNames, AugmentRecipes.qcClassNames)
        XCTAssertEqual(r.config.classes, AugmentRecipes.qcClassNames.count)
        XCTAssertEqual(r.config.patch, [48, 64, 1])
        XCTAssertEqual(r.inputShape, [48, 64, 56])
        XCTAssertEqual(r.config.steps, 21)
        XCTAssertEqual(r.spacing, [1.5, 1.5, 1.5])
        XCTAssertEqual(r.artefacts.count, AugmentRecipes.qcArtefacts.count)
        XCTAssertEqual(r.augmentation, AugmentRecipes.qcBase)
        let s = try XCTUnwrap(r.search)
        XCTAssertEqual(s.mode, .grid)
        XCTAssertEqual(s.learningRates, [3e-4, 3e-3])
        XCTAssertEqual(s.weightDecays, [1e-5, 1e-3])
        XCTAssertEqual(s.widths, [8, 16])
        XCTAssertEqual(s.depths, [3, 4])
        XCTAssertEqual([s.trials, s.steps], [4, 50])
    }

    func testArtefactsOnSynthesisedHeads() throws {
        let (r, inputs) = try request([
            "task": "classify", "output": "m", "artefacts-from": "t1.nii.gz", "head-from": "labels.nii.gz", "head-pool": "7", "steps": "5",
        ])
        XCTAssertEqual(inputs, ["t1.nii.gz", "labels.nii.gz"])
        XCTAssertEqual(r.artefactsFrom, "t1.nii.gz")
        XCTAssertEqual(r.headFrom, "labels.nii.gz")
        XCTAssertEqual(r.headPool, 7)
        XCTAssertEqual(r.labelNames, AugmentRecipes.qcClassNames)
        XCTAssertEqual(r.artefacts, AugmentRecipes.qcHeadArtefacts)
        // Heavy noise is Gaussian or Rician.
        XCTAssertEqual(r.artefacts[4]?.oneOf?.map(\.transform), [.noise, .rician])
        XCTAssertEqual(try request(["task": "classify", "output": "m", "artefacts-from": "t1.nii.gz", "steps": "5"]).request.headFrom, nil)
        XCTAssertEqual(message(["task": "classify", "output": "m", "data": "d.csv", "head-from": "l.nii.gz", "labels": "a,b", "steps": "5"]),
                       "--head-from goes with --artefacts-from (the T1 on the labels' grid)")
        XCTAssertEqual(message(["task": "classify", "output": "m", "artefacts-from": "t", "head-from": "l", "head-pool": "0", "steps": "5"]),
                       "--head-pool expects a whole number in 1...1000, got '0'")
    }

    func testTheFirstProblemIsTheOneReported() {
        XCTAssertEqual(message([:]), "--task segment|classify is required")
        XCTAssertEqual(message(["task": "segment", "dims": "9"]), "-o STEM (output path without extension) is required")
        XCTAssertEqual(message(["task": "segment", "output": "m", "dims": "9"]), "give exactly one of --data, --pairs, --synth-from, --artefacts-from")
        XCTAssertEqual(message(["task": "classify", "output": "m", "pairs": "p.csv"]), "--pairs and --synth-from are for --task segment")
        XCTAssertEqual(message(["task": "segment", "output": "m", "data": "d", "dims": "9"]), "--dims expects a whole number in 2...3, got '9'")
        XCTAssertEqual(message(["task": "segment", "output": "m", "data": "d"]), "give --labels NAMES or --classes N (at least two)")
        XCTAssertEqual(message(["task": "segment", "output": "m", "data": "d", "classes": "3", "labels": "a,b"]), "--labels has 2 names for 3 classes")
        XCTAssertEqual(message(["task": "segment", "output": "m", "data": "d", "classes": "2"]), "give --steps N or --epochs N")
        XCTAssertEqual(message(["task": "segment", "output": "m", "data": "d", "classes": "2", "steps": "1", "patch": "0,2,3"]),
                       "--patch expects whole numbers ≥ 1")
        XCTAssertEqual(message(["task": "segment", "output": "m", "data": "d", "classes": "2", "steps": "1", "patch": "60,60,60"]),
                       "training setting patch: [60, 60, 60] must be divisible by 8 (2^(levels−1)) along each network axis")
        XCTAssertEqual(message(["task": "segment", "output": "m", "data": "d", "classes": "2", "steps": "1", "val-fraction": "1"]),
                       "--val-fraction must be in [0, 1)")
        XCTAssertEqual(message(["task": "segment", "output": "m", "data": "d", "classes": "2", "steps": "1", "search": "grid", "search-depth": "9"]),
                       "--search-* values out of range (lr > 0, wd ≥ 0, width ≥ 1, depth 2...7)")
        // A classification CSV that cannot be read is the data's fault, not the command line's.
        XCTAssertEqual(message(["task": "classify", "output": "m", "data": "/nonexistent/x.csv"])?.hasPrefix("TrainingError"), true)
    }
}
