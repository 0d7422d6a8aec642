import Foundation
import MedVoxCore
import MedVoxTraining
import MedVoxTransforms

/// `medvox train`: trains a segmentation or classification model and writes NAME.safetensors + NAME.json.
struct TrainCommand: Command {
    static let spec = CommandSpec(
        """
        train: train a segmentation or classification model (writes NAME.safetensors and the card NAME.json)
          --task segment|classify   what the model does (required)
          --data DIR|CSV            segment: folder with imagesTr/ and labelsTr/; classify: CSV of path,label
          --pairs CSV               segment: CSV of image,label paths instead of --data
          --synth-from LABELS       segment from label maps alone (file or folder), SynthSeg-style synthesis
          --artefacts-from IMAGE    classify scan quality: clean/motion/ghosting/spike/noise/bias synthesised on IMAGE
          --output STEM             output path without extension, e.g. Models/brain-tissue (required; -o)
          --labels NAMES            comma-separated label or class names (default: label0,… or the CSV's classes)
          --classes N               number of labels (segment; default: count of --labels)
          --dims 2|3                2D (slice by slice) or 3D network (default 3)
          --spacing MM              voxel spacing the network sees, e.g. 2 or 2,2,2 (default 2)
          --patch I,J,K             patch size (2D: I,J) (default 64,64,64 / 96,96)
          --shape I,J,K             classify: fixed input shape after resampling (default 48,64,56)
          --features LIST           U-Net features per level or ResNet widths (default 8,16,32,64)
          --batch N                 batch size (default 2)
          --steps N                 training steps (iterations)
          --epochs N                epochs of --steps-per-epoch steps (alternative to --steps)
          --steps-per-epoch N       steps per epoch and validation interval (default 50)
          --lr X                    learning rate (default 1e-3)
          --weight-decay X          weight decay (default 1e-4)
          --optimizer adamw|sgd     optimizer (default adamw)
          --schedule poly|cosine|constant  learning-rate schedule (default poly)
          --warmup N                linear warm-up steps (default 0)
          --patience N              early stopping after N validations without improvement
          --augment NAME|LIST|FILE  strong (default for segment), qc, none, a list like flip,affine@0.5, or a JSON file
          --held-out-augment NAME|LIST|FILE  recipe of held-out variants (default held-out)
          --val-fraction X          fraction of cases held out for validation (default 0.2)
          --val-variants N          held-out augmented variants per case for validation (default 2)
          --eval-variants N         held-out augmented variants per case for the card's evaluation (default 4)
          --seed N                  seed of the split, sampling, augmentation and initialisation (default 0)
          --resume                  continue from STEM.ckpt after an interruption
          --stop-at N               end training at step N (the schedule still follows --steps); validate, evaluate, write
          --search random|grid      hyper-parameter search before training
          --trials N                random search trials (default 4)
          --search-steps N          steps per search trial (default 50)
          --search-lr LIST          learning rates (grid) or range (random) (default 3e-4,3e-3)
          --search-wd LIST          weight decays (default 1e-5,1e-3)
          --search-width LIST       first-level widths (default 8,16)
          --search-depth LIST       levels (default 3,4)
          --data-note TEXT          provenance of the data, recorded in the card
          --contrast TEXT           expected contrast recorded in the card, e.g. T1w

        Writes STEM.safetensors and STEM.json (the model card: architecture, labels, preprocessing, the exact command,
        data provenance, recipe, evaluation on held-out data, sha256), plus STEM.ckpt (resumable checkpoint),
        STEM.log.csv (step,lr,loss,val_score,seconds) and, with --search, STEM.search.csv.
        Example: medvox train --task segment --data Data/task01 --labels background,tumour -o Models/tumour --steps 2000
        """)

    let request: TrainingRequest
    /// The training data (files and folders), never to be written over.
    let inputs: [String]

    init(_ a: ParsedArguments) throws {
        guard let task = a.value("task") else { throw UsageError("--task segment|classify is required") }
        guard task == "segment" || task == "classify" else { throw UsageError("--task must be segment or classify, got '\(task)'") }
        let isSeg = task == "segment"
        let out = a.value("output")
        guard let stem = out, !stem.isEmpty else { throw UsageError("-o STEM (output path without extension) is required") }
        let stemClean = stem.hasSuffix(".json") ? String(stem.dropLast(5)) : stem
        let sources = ["data", "pairs", "synth-from", "artefacts-from"].filter { a.value($0) != nil }
        inputs = sources.compactMap { a.value($0) }
        guard sources.count == 1 else { throw UsageError("give exactly one of --data, --pairs, --synth-from, --artefacts-from") }
        if !isSeg && (a.value("pairs") != nil || a.value("synth-from") != nil) { throw UsageError("--pairs and --synth-from are for --task segment") }
        if isSeg && a.value("artefacts-from") != nil { throw UsageError("--artefacts-from is for --task classify") }
        let dims = try a.int("dims", range: 2...3) ?? 3
        var labels = a.value("labels").map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if a.value("artefacts-from") != nil && labels == nil { labels = AugmentRecipes.qcClassNames }
        var classes = try a.int("classes", range: 2...1000) ?? labels?.count ?? 0
        if !isSeg && a.value("data") != nil && classes == 0 {
            classes = try TrainingData.classificationCSV(a.value("data")!, classNames: labels).classes.count
        }
        guard classes >= 2 else { throw UsageError("give --labels NAMES or --classes N (at least two)") }
        if let l = labels, l.count != classes { throw UsageError("--labels has \(l.count) names for \(classes) classes") }
        func ints(_ n: String, _ counts: Set<Int>) throws -> [Int]? {
            try a.doubles(n, counts: counts).map { v in
                guard v.allSatisfy({ $0 >= 1 && $0 == $0.rounded() }) else { throw UsageError("--\(n) expects whole numbers ≥ 1") }
                return v.map { Int($0) }
            }
        }
        var patch = try ints("patch", dims == 3 ? [3] : [2, 3]) ?? (dims == 3 ? [64, 64, 64] : [96, 96])
        if dims == 2 { patch = [patch[0], patch[1], 1] }
        let shape = try ints("shape", [3]) ?? [48, 64, 56]
        if !isSeg { patch = dims == 3 ? shape : [shape[0], shape[1], 1] }
        let features = try ints("features", Set(1...8)) ?? [8, 16, 32, 64]
        let spe = try a.int("steps-per-epoch", range: 1...1_000_000) ?? 50
        let steps: Int
        if let s = try a.int("steps", range: 1...100_000_000) {
            steps = s
        } else if let e = try a.int("epochs", range: 1...1_000_000) {
            steps = e * spe
        } else {
            throw UsageError("give --steps N or --epochs N")
        }
        var cfg = TrainingConfig(task: isSeg ? .segmentation : .classification, spatialRank: dims, classes: classes, features: features, patch: patch, steps: steps)
        cfg.batchSize = try a.int("batch", range: 1...256) ?? 2
        cfg.validateEvery = spe
        cfg.learningRate = try a.double("lr") ?? 1e-3
        cfg.weightDecay = try a.double("weight-decay") ?? 1e-4
        cfg.optimizer = a.value("optimizer") ?? "adamw"
        cfg.schedule = a.value("schedule") ?? "poly"
        cfg.warmupSteps = try a.int("warmup", range: 0...100_000_000) ?? 0
        cfg.patience = try a.int("patience", range: 1...1_000_000)
        if let s = a.value("seed") {
            guard let v = UInt64(s) else { throw UsageError("--seed expects a whole number ≥ 0, got '\(s)'") }
            cfg.seed = v
        }
        do { try cfg.validate() } catch let e as TrainingError { throw UsageError(e.description) }

        func pipeline(_ option: String, default d: AugmentPipeline) throws -> AugmentPipeline {
            guard let v = a.value(option) else { return d }
            if let p = AugmentRecipes.named(v) { return p }
            if v.hasSuffix(".json") {
                guard let data = FileManager.default.contents(atPath: v) else { throw UsageError("--\(option): cannot read \(v)") }
                return try AugmentPipeline.decode(data, source: v)
            }
            do { return try AugmentPipeline.parse(spec: v) } catch { throw UsageError("--\(option): \(error)") }
        }
        let augment = try pipeline("augment", default: isSeg ? AugmentRecipes.strong : AugmentRecipes.qcBase)
        let heldOut = try pipeline("held-out-augment", default: isSeg ? AugmentRecipes.heldOut : AugmentRecipes.qcBase)
        let command = (["medvox"] + CommandLine.arguments.dropFirst()).map { w in
            w.contains(where: { " \"'$;&|<>*?()".contains($0) }) ? "'" + w.replacingOccurrences(of: "'", with: "'\\''") + "'" : w
        }.joined(separator: " ")
        var r = TrainingRequest(config: cfg, outputStem: stemClean, augmentation: augment, heldOutAugmentation: heldOut, command: command)
        r.data = a.value("data")
        r.pairs = a.value("pairs")
        r.synthFrom = a.value("synth-from")
        r.artefactsFrom = a.value("artefacts-from")
        if r.artefactsFrom != nil { r.artefacts = AugmentRecipes.qcArtefacts }
        r.labelNames = labels
        if let s = try a.doubles("spacing", counts: [1, 3]) {
            guard s.allSatisfy({ $0 > 0 }) else { throw UsageError("--spacing must be positive") }
            r.spacing = s.count == 1 ? [s[0], s[0], s[0]] : s
        }
        r.inputShape = isSeg ? nil : shape
        if let v = try a.double("val-fraction") {
            guard v >= 0 && v < 1 else { throw UsageError("--val-fraction must be in [0, 1)") }
            r.validationFraction = v
        }
        r.validationVariants = try a.int("val-variants", range: 0...1000) ?? 2
        r.evaluationVariants = try a.int("eval-variants", range: 1...1000) ?? 4
        r.resume = a.flag("resume")
        r.stopAt = try a.int("stop-at", range: 1...100_000_000)
        r.dataNote = a.value("data-note")
        r.contrast = a.value("contrast")
        if let m = a.value("search") {
            guard let mode = SearchSpec.Mode(rawValue: m) else { throw UsageError("--search must be random or grid") }
            func list(_ n: String, _ d: [Double]) throws -> [Double] { try a.doubles(n, counts: Set(1...16)) ?? d }
            var s = SearchSpec(mode: mode, learningRates: try list("search-lr", [3e-4, 3e-3]), weightDecays: try list("search-wd", [1e-5, 1e-3]),
                               widths: try list("search-width", [8, 16]).map { Int($0) }, depths: try list("search-depth", [3, 4]).map { Int($0) })
            s.trials = try a.int("trials", range: 1...1000) ?? 4
            s.steps = try a.int("search-steps", range: 1...1_000_000) ?? 50
            guard s.learningRates.allSatisfy({ $0 > 0 }), s.weightDecays.allSatisfy({ $0 >= 0 }),
                  s.widths.allSatisfy({ $0 >= 1 }), s.depths.allSatisfy({ $0 >= 2 && $0 <= 7 })
            else { throw UsageError("--search-* values out of range (lr > 0, wd ≥ 0, width ≥ 1, depth 2...7)") }
            r.search = s
        }
        request = r
    }

    func run() throws {
        AtomicFile.protect(inputs)
        let card = try TrainingRun.run(request) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        print("wrote \(request.outputStem).json and \(card.weights.file)")
        for (k, v) in (card.evaluation?.metrics ?? [:]).sorted(by: { $0.key < $1.key }) { print("  \(k): \(String(format: "%.4f", v))") }
        if let r = card.training?.recipe {
            print("  steps/s: \(r["stepsPerSecond"] ?? "?"), peak memory: \(r["peakMemoryMB"] ?? "?") MB")
        }
    }
}
