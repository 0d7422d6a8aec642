import Foundation
import MedVoxCore
import MedVoxTransforms

/// `medvox train`'s options read into a `TrainingRequest`, with the defaults its help states:
/// the data source, labels and classes (counted from a classification CSV when not given), the
/// network's input and widths, the schedule, the optimiser, augmentation, held-out evaluation and
/// the hyper-parameter search. The options are read in a fixed order, so the first problem on a
/// command line is the one reported.
public enum TrainingCommandLine {
    /// The request for a `medvox train` command line, and the data paths it names (files and
    /// folders never to be written over).
    ///
    /// - Parameters:
    ///   - a: the parsed options.
    ///   - words: the command line after the program name, recorded in the card.
    /// - Throws: `CommandOptionError` for options that are missing or do not fit together, the
    ///   readers' usage errors for malformed values, `TrainingError.badData` for a classification
    ///   CSV that cannot be read, and the augmentation file's errors.
    public static func request(_ a: any CommandOptions, words: [String]) throws -> (request: TrainingRequest, inputs: [String]) {
        guard let task = a.value("task") else { throw CommandOptionError("--task segment|classify is required") }
        guard task == "segment" || task == "classify" else { throw CommandOptionError("--task must be segment or classify, got '\(task)'") }
        let isSeg = task == "segment"
        guard let stem = a.value("output"), !stem.isEmpty else { throw CommandOptionError("-o STEM (output path without extension) is required") }
        let inputs = try dataSources(a, segment: isSeg)
        let dims = try a.int("dims", range: 2...3) ?? 3
        let (labels, classes) = try labelsAndClasses(a, segment: isSeg)
        let (patch, shape) = try inputSize(a, segment: isSeg, dims: dims)
        let features = try wholeNumbers(a, "features", Set(1...8)) ?? [8, 16, 32, 64]
        var cfg = try schedule(a, config: TrainingConfig(task: isSeg ? .segmentation : .classification, spatialRank: dims, classes: classes,
                                                         features: features, patch: patch, steps: 0))
        try optimiser(a, config: &cfg)
        do { try cfg.validate() } catch let e as TrainingError { throw CommandOptionError(e.description) }

        let augment = try augmentation(a, "augment", default: isSeg ? AugmentRecipes.strong : AugmentRecipes.qcBase)
        let heldOut = try augmentation(a, "held-out-augment", default: isSeg ? AugmentRecipes.heldOut : AugmentRecipes.qcBase)
        var r = TrainingRequest(
            config: cfg, outputStem: stem.hasSuffix(".json") ? String(stem.dropLast(5)) : stem, augmentation: augment,
            heldOutAugmentation: heldOut, command: shellQuoted(["medvox"] + words))
        r.data = a.value("data")
        r.pairs = a.value("pairs")
        r.synthFrom = a.value("synth-from")
        r.artefactsFrom = a.value("artefacts-from")
        if r.artefactsFrom != nil { r.artefacts = AugmentRecipes.qcArtefacts }
        r.headFrom = a.value("head-from")
        if r.headFrom != nil {
            guard r.artefactsFrom != nil else { throw CommandOptionError("--head-from goes with --artefacts-from (the T1 on the labels' grid)") }
            r.artefacts = AugmentRecipes.qcHeadArtefacts
            r.headPool = try a.int("head-pool", range: 1...1000) ?? 24
        }
        r.labelNames = labels
        if let s = try a.doubles("spacing", counts: [1, 3]) {
            guard s.allSatisfy({ $0 > 0 }) else { throw CommandOptionError("--spacing must be positive") }
            r.spacing = s.count == 1 ? [s[0], s[0], s[0]] : s
        }
        r.inputShape = isSeg ? nil : shape
        try heldOutEvaluation(a, request: &r)
        r.resume = a.flag("resume")
        r.stopAt = try a.int("stop-at", range: 1...100_000_000)
        r.dataNote = a.value("data-note")
        r.contrast = a.value("contrast")
        r.search = try search(a)
        return (r, inputs)
    }

    /// Exactly one of --data, --pairs, --synth-from, --artefacts-from, allowed for the task.
    static func dataSources(_ a: any CommandOptions, segment isSeg: Bool) throws -> [String] {
        let sources = ["data", "pairs", "synth-from", "artefacts-from"].filter { a.value($0) != nil }
        guard sources.count == 1 else { throw CommandOptionError("give exactly one of --data, --pairs, --synth-from, --artefacts-from") }
        if !isSeg && (a.value("pairs") != nil || a.value("synth-from") != nil) {
            throw CommandOptionError("--pairs and --synth-from are for --task segment")
        }
        if isSeg && a.value("artefacts-from") != nil { throw CommandOptionError("--artefacts-from is for --task classify") }
        return sources.compactMap { a.value($0) } + (a.value("head-from").map { [$0] } ?? [])
    }

    /// The label or class names (--labels; the artefact classes for --artefacts-from) and the
    /// class count (--classes, else the names' count, else the classes of the --data CSV).
    static func labelsAndClasses(_ a: any CommandOptions, segment isSeg: Bool) throws -> (labels: [String]?, classes: Int) {
        var labels = a.value("labels").map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if a.value("artefacts-from") != nil && labels == nil { labels = AugmentRecipes.qcClassNames }
        var classes = try a.int("classes", range: 2...1000) ?? labels?.count ?? 0
        if !isSeg, let csv = a.value("data"), classes == 0 {
            classes = try TrainingData.classificationCSV(csv, classNames: labels).classes.count
        }
        guard classes >= 2 else { throw CommandOptionError("give --labels NAMES or --classes N (at least two)") }
        if let l = labels, l.count != classes { throw CommandOptionError("--labels has \(l.count) names for \(classes) classes") }
        return (labels, classes)
    }

    /// The network's input: the patch (segmentation; default 64³, or 96² in 2D) or the fixed
    /// shape after resampling (classification; default 48×64×56), as (i, j, k) with k = 1 in 2D.
    static func inputSize(_ a: any CommandOptions, segment isSeg: Bool, dims: Int) throws -> (patch: [Int], shape: [Int]) {
        var patch = try wholeNumbers(a, "patch", dims == 3 ? [3] : [2, 3]) ?? (dims == 3 ? [64, 64, 64] : [96, 96])
        if dims == 2 { patch = [patch[0], patch[1], 1] }
        let shape = try wholeNumbers(a, "shape", [3]) ?? [48, 64, 56]
        if !isSeg { patch = dims == 3 ? shape : [shape[0], shape[1], 1] }
        return (patch, shape)
    }

    /// Steps (--steps, or --epochs × --steps-per-epoch), validation interval (--steps-per-epoch,
    /// default 50) and batch size (default 2).
    static func schedule(_ a: any CommandOptions, config: TrainingConfig) throws -> TrainingConfig {
        var cfg = config
        let spe = try a.int("steps-per-epoch", range: 1...1_000_000) ?? 50
        if let s = try a.int("steps", range: 1...100_000_000) {
            cfg.steps = s
        } else if let e = try a.int("epochs", range: 1...1_000_000) {
            cfg.steps = e * spe
        } else {
            throw CommandOptionError("give --steps N or --epochs N")
        }
        cfg.batchSize = try a.int("batch", range: 1...256) ?? 2
        cfg.validateEvery = spe
        return cfg
    }

    /// Learning rate (1e-3), weight decay (1e-4), optimiser (adamw), schedule (poly), warm-up (0),
    /// early stopping and seed (0).
    static func optimiser(_ a: any CommandOptions, config cfg: inout TrainingConfig) throws {
        cfg.learningRate = try a.double("lr") ?? 1e-3
        cfg.weightDecay = try a.double("weight-decay") ?? 1e-4
        cfg.optimizer = a.value("optimizer") ?? "adamw"
        cfg.schedule = a.value("schedule") ?? "poly"
        cfg.warmupSteps = try a.int("warmup", range: 0...100_000_000) ?? 0
        cfg.patience = try a.int("patience", range: 1...1_000_000)
        if let s = a.value("seed") {
            guard let v = UInt64(s) else { throw CommandOptionError("--seed expects a whole number ≥ 0, got '\(s)'") }
            cfg.seed = v
        }
    }

    /// An augmentation recipe: a name (`AugmentRecipes.named`), a JSON file, or a list such as
    /// flip,affine@0.5.
    static func augmentation(_ a: any CommandOptions, _ option: String, default d: AugmentPipeline) throws -> AugmentPipeline {
        guard let v = a.value(option) else { return d }
        if let p = AugmentRecipes.named(v) { return p }
        if v.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: v) else { throw CommandOptionError("--\(option): cannot read \(v)") }
            return try AugmentPipeline.decode(data, source: v)
        }
        do { return try AugmentPipeline.parse(spec: v) } catch { throw CommandOptionError("--\(option): \(error)") }
    }

    /// The held-out fraction (default 0.2) and the augmented variants per held-out case for
    /// validation (2) and for the card's evaluation (4).
    static func heldOutEvaluation(_ a: any CommandOptions, request r: inout TrainingRequest) throws {
        if let v = try a.double("val-fraction") {
            guard v >= 0 && v < 1 else { throw CommandOptionError("--val-fraction must be in [0, 1)") }
            r.validationFraction = v
        }
        r.validationVariants = try a.int("val-variants", range: 0...1000) ?? 2
        r.evaluationVariants = try a.int("eval-variants", range: 1...1000) ?? 4
    }

    /// The hyper-parameter search of --search random|grid, nil without it: learning rates
    /// 3e-4,3e-3, weight decays 1e-5,1e-3, widths 8,16, depths 3,4, 4 trials of 50 steps.
    static func search(_ a: any CommandOptions) throws -> SearchSpec? {
        guard let m = a.value("search") else { return nil }
        guard let mode = SearchSpec.Mode(rawValue: m) else { throw CommandOptionError("--search must be random or grid") }
        func list(_ n: String, _ d: [Double]) throws -> [Double] { try a.doubles(n, counts: Set(1...16)) ?? d }
        var s = SearchSpec(
            mode: mode, learningRates: try list("search-lr", [3e-4, 3e-3]), weightDecays: try list("search-wd", [1e-5, 1e-3]),
            widths: try list("search-width", [8, 16]).map { Int($0) }, depths: try list("search-depth", [3, 4]).map { Int($0) })
        s.trials = try a.int("trials", range: 1...1000) ?? 4
        s.steps = try a.int("search-steps", range: 1...1_000_000) ?? 50
        guard s.learningRates.allSatisfy({ $0 > 0 }), s.weightDecays.allSatisfy({ $0 >= 0 }),
            s.widths.allSatisfy({ $0 >= 1 }), s.depths.allSatisfy({ $0 >= 2 && $0 <= 7 })
        else { throw CommandOptionError("--search-* values out of range (lr > 0, wd ≥ 0, width ≥ 1, depth 2...7)") }
        return s
    }

    /// Comma-separated whole numbers ≥ 1 for `--name` (as many as one of `counts`), nil when absent.
    static func wholeNumbers(_ a: any CommandOptions, _ name: String, _ counts: Set<Int>) throws -> [Int]? {
        try a.doubles(name, counts: counts).map { v in
            guard v.allSatisfy({ $0 >= 1 && $0 == $0.rounded() }) else { throw CommandOptionError("--\(name) expects whole numbers ≥ 1") }
            return v.map { Int($0) }
        }
    }

    /// `words` joined for a POSIX shell, each word with a space or shell character in single quotes.
    static func shellQuoted(_ words: [String]) -> String {
        words.map { w in
            w.contains(where: { " \"'$;&|<>*?()".contains($0) }) ? "'" + w.replacingOccurrences(of: "'", with: "'\\''") + "'" : w
        }.joined(separator: " ")
    }
}
