import Foundation
import MedVoxCore
import MedVoxInference
import MedVoxNN
import MedVoxTensor
import MedVoxTransforms

/// Everything `medvox train` was asked to do: where the data is, how to preprocess, augment,
/// train, search, evaluate, and where the model goes.
public struct TrainingRequest: Sendable {
    public var config: TrainingConfig
    /// Output path without extension: writes STEM.safetensors and STEM.json (+ STEM.ckpt,
    /// STEM.log.csv, STEM.search.csv while training).
    public var outputStem: String
    /// Segmentation: a folder with imagesTr/ + labelsTr/. Classification: a CSV of path,label.
    public var data: String?
    /// Segmentation: a CSV of image,label pairs.
    public var pairs: String?
    /// Segmentation from label maps alone (a file or a folder), SynthSeg-style.
    public var synthFrom: String?
    /// Classification of synthesised artefacts on this image (or the images of a folder).
    public var artefactsFrom: String?
    /// With `artefactsFrom`: the brain label map on the T1's grid; the artefacts are then
    /// synthesised on whole heads drawn around it (`SynthesisedHeads`).
    public var headFrom: String?
    /// Head label maps drawn once for training with `headFrom`.
    public var headPool = 24
    /// Label (segmentation) or class names; defaults: "label0"… or the CSV's sorted classes.
    public var labelNames: [String]?
    /// Voxel spacing the network sees, mm.
    public var spacing: [Double] = [2, 2, 2]
    /// Classification: the fixed input shape (i, j, k) after resampling (pad or crop).
    public var inputShape: [Int]?
    public var augmentation: AugmentPipeline
    /// Recipe of the held-out variants (validation and evaluation), drawn with seeds training never uses.
    public var heldOutAugmentation: AugmentPipeline
    /// Artefact classes for `artefactsFrom` (nil entry: clean).
    public var artefacts: [AugmentSpec?] = []
    public var validationFraction: Double = 0.2
    /// Held-out augmented variants per case for validation (when no case is held out) and for the final evaluation.
    public var validationVariants: Int = 2
    public var evaluationVariants: Int = 4
    public var search: SearchSpec?
    public var resume = false
    /// End training at this step (the schedule still follows `config.steps`).
    public var stopAt: Int?
    /// The exact command line, for the card.
    public var command: String
    /// Provenance of the data (free text, added to the card with the files' SHA-256).
    public var dataNote: String?
    public var modality = "MR"
    public var contrast: String?

    public init(config: TrainingConfig, outputStem: String, augmentation: AugmentPipeline, heldOutAugmentation: AugmentPipeline, command: String) {
        self.config = config
        self.outputStem = outputStem
        self.augmentation = augmentation
        self.heldOutAugmentation = heldOutAugmentation
        self.command = command
    }

    public var name: String { URL(fileURLWithPath: outputStem).lastPathComponent }
}

/// Hyper-parameter search settings: `grid` tries every combination; `random` draws `trials`
/// configurations (learning rate and weight decay log-uniform between the given extremes, width and
/// depth from the given values). Each trial trains `steps` steps and is scored on validation.
public struct SearchSpec: Sendable, Equatable {
    public enum Mode: String, Sendable { case random, grid }
    public var mode: Mode
    public var trials: Int = 4
    public var steps: Int = 50
    public var learningRates: [Double]
    public var weightDecays: [Double]
    public var widths: [Int]
    public var depths: [Int]
    public init(mode: Mode, learningRates: [Double], weightDecays: [Double], widths: [Int], depths: [Int]) {
        self.mode = mode
        self.learningRates = learningRates
        self.weightDecays = weightDecays
        self.widths = widths
        self.depths = depths
    }
}

/// One trial of a search.
public struct SearchResult: Sendable, Equatable {
    public var learningRate: Double, weightDecay: Double, width: Int, depth: Int
    public var score: Double?
    public var seconds: Double
}

/// Feature counts for a base width and a number of levels: w, 2w, 4w, … (capped at 320, as nnU-Net).
public func featuresFor(width: Int, depth: Int) -> [Int] {
    (0..<depth).map { min(320, width << $0) }
}

/// The prepared data of a request: training source, validation and evaluation items, names.
public struct PreparedData {
    public var source: ExampleSource
    public var validation: [HeldOutItem]
    public var evaluation: [HeldOutItem]
    public var labelNames: [String]
    public var pipeline: PreprocessPipeline
    /// Provenance: files and their SHA-256, the split, and how held-out items were made.
    public var provenance: String
    public var evaluationNote: String
}

public enum TrainingRun {
    /// Seeds of held-out variants live in streams training never draws from (training example n
    /// uses stream n < 2^40).
    static let validationStream: UInt64 = 1 << 40
    static let evaluationStream: UInt64 = 1 << 41

    /// The preprocessing pipeline of a request (goes into the card).
    public static func pipeline(_ r: TrainingRequest) -> PreprocessPipeline {
        var steps: [PreprocessStep] = [.reorient("RAS"), .resample(spacing: r.spacing)]
        if r.config.task == .classification {
            steps.append(.cropForeground(threshold: 0, margin: 2))
            if let s = r.inputShape { steps.append(.padCrop(s)) }
        }
        steps.append(.percentile(lower: 0.5, upper: 99.5, nonZero: true))
        return PreprocessPipeline(steps: steps)
    }

    static func fileDigest(_ path: String) -> String {
        guard let d = FileManager.default.contents(atPath: path) else { return "unreadable" }
        return SHA256.hash([UInt8](d)).hex
    }

    /// Reads and prepares the data of a request: cases, the seeded split, the example sources,
    /// the held-out items (the held-out cases, or augmented variants of them) and provenance.
    public static func prepare(_ r: TrainingRequest) throws -> PreparedData {
        let cfg = r.config
        let pipe = pipeline(r)
        let (cases, names) = try readCases(r)
        let labelNames = names ?? (0..<cfg.classes).map { "label\($0)" }
        guard labelNames.count == cfg.classes else {
            throw TrainingError.badSetting(name: "labels", reason: "\(labelNames.count) names for \(cfg.classes) classes")
        }
        let split = TrainingData.split(ids: cases.map(\.id), validationFraction: r.validationFraction, seed: cfg.seed)
        let isSeg = cfg.task == .segmentation
        var prepared: [PreparedCase] = []
        for c in cases { prepared.append(try PreparedCase.load(c, pipeline: pipe, classes: isSeg ? cfg.classes : nil)) }
        let train = split.train.map { prepared[$0] }, held = split.validation.map { prepared[$0] }
        for c in train where isSeg && c.foreground.isEmpty && r.synthFrom == nil {
            warn("case \(c.id) has no labelled voxel")
        }
        let (aug, heldAug) = augmentations(r)
        let intensity = PreprocessPipeline(steps: pipe.steps.filter { !$0.isSpatial })
        let kind: ExampleSource.Kind
        if isSeg {
            kind = .segmentation(cases: train, sampler: PatchSampler(patch: cfg.patch, foregroundEvery: cfg.foregroundEvery))
        } else if let labels = r.headFrom {
            let fov = zip(r.inputShape ?? cfg.patch, r.spacing).map { Double($0) * $1 }
            kind = .heads(try SynthesisedHeads.load(labels: labels, t1: r.artefactsFrom, poolSize: r.headPool, seed: cfg.seed, pipeline: pipe,
                                                    fieldOfView: fov), artefacts: r.artefacts)
        } else if r.artefactsFrom != nil {
            kind = .artefacts(cases: train, artefacts: r.artefacts)
        } else {
            kind = .classification(cases: train)
        }
        let margin = isSeg ? cfg.patch.map { $0 == 1 ? 2 : max(4, $0 / 8) } : [0, 0, 0]
        let source = ExampleSource(kind: kind, augmentation: aug, margin: margin, renormalise: isSeg ? nil : intensity)
        let heldSource = ExampleSource(kind: kind, augmentation: heldAug, margin: margin, renormalise: isSeg ? nil : intensity)

        func plain(_ cs: [PreparedCase]) -> [HeldOutItem] { cs.map { HeldOutItem(image: $0.image, label: $0.label, classIndex: $0.classIndex) } }
        func variants(of base: [PreparedCase], count: Int, stream: UInt64) throws -> [HeldOutItem] {
            try heldOutVariants(of: base, count: count, stream: stream, request: r, source: heldSource, augmentation: heldAug, intensity: intensity)
        }
        let augmentedHeldOut = r.synthFrom != nil || r.artefactsFrom != nil
        let validation: [HeldOutItem], evaluation: [HeldOutItem]
        var evalNote: String
        let heldRecipe = String(decoding: (try? JSONEncoder().encode(heldAug.transforms.map(\.transform.rawValue))) ?? Data(), as: UTF8.self)
        if !held.isEmpty && !augmentedHeldOut {
            validation = plain(held)
            evaluation = plain(held)
            evalNote = "\(held.count) held-out case(s) (seeded split by case): \(held.map(\.id).joined(separator: ", "))"
        } else {
            let base = held.isEmpty ? train : held
            validation = try variants(of: base, count: r.validationVariants, stream: validationStream)
            evaluation = try variants(of: base, count: r.evaluationVariants, stream: evaluationStream)
            evalNote = "\(evaluation.count) augmented variant(s) of the \(held.isEmpty ? "training" : "held-out") case(s), "
                + "made with transforms \(heldRecipe) from seeds never used in training (SeededGenerator(\(cfg.seed)).split(stream: 2^41 + …))"
            if r.headFrom != nil {
                evalNote = "validation on synthetic variants of the training template: \(evaluation.count) whole heads synthesised around the "
                    + "template from seeds never used in training (fresh head label maps, not the training pool; SeededGenerator(\(cfg.seed)).split(stream: 2^41 + …)), "
                    + "clean images made with transforms \(heldRecipe), one artefact class each; "
                    + "evaluation on independent data: none available inside a package"
            }
        }
        return PreparedData(source: source, validation: validation, evaluation: evaluation, labelNames: labelNames, pipeline: pipe,
                            provenance: provenance(r, cases: cases, training: train.count, heldOut: held.count), evaluationNote: evalNote)
    }

    /// The request's cases, and its class names when the data names them (a classification CSV,
    /// or the artefacts of `--artefacts-from`).
    static func readCases(_ r: TrainingRequest) throws -> (cases: [TrainingCase], names: [String]?) {
        let cfg = r.config
        let cases: [TrainingCase]
        var names = r.labelNames
        if let s = r.synthFrom {
            cases = try TrainingData.labelMaps(s)
        } else if let p = r.pairs {
            cases = try TrainingData.segmentationPairs(p)
        } else if let a = r.artefactsFrom {
            cases = try TrainingData.labelMaps(a).map { TrainingCase(id: $0.id, image: $0.label) }
        } else if let d = r.data {
            if cfg.task == .segmentation {
                cases = try TrainingData.segmentationFolder(d)
            } else {
                let (c, n) = try TrainingData.classificationCSV(d, classNames: r.labelNames)
                cases = c
                names = n
            }
        } else {
            throw TrainingError.badSetting(name: "data", reason: "give --data, --pairs, --synth-from or --artefacts-from")
        }
        if r.artefactsFrom != nil && names == nil { names = r.artefacts.map { $0?.transform.rawValue ?? "clean" } }
        return (cases, names)
    }

    /// The training and held-out augmentation of a request; label maps alone (`--synth-from`)
    /// get label synthesis first.
    static func augmentations(_ r: TrainingRequest) -> (training: AugmentPipeline, heldOut: AugmentPipeline) {
        var aug = r.augmentation
        var heldAug = r.heldOutAugmentation
        if r.synthFrom != nil {
            if !aug.transforms.contains(where: { $0.transform == .labelSynthesis }) {
                aug.transforms.insert(AugmentSpec(.labelSynthesis), at: 0)
            }
            if !heldAug.transforms.contains(where: { $0.transform == .labelSynthesis }) {
                heldAug.transforms.insert(AugmentSpec(.labelSynthesis), at: 0)
            }
        }
        return (aug, heldAug)
    }

    /// `count` seeded held-out variants of each case of `base`, from seeds in `stream` (never drawn
    /// by training): an artefact variant (class = the artefact), an augmented image and its labels,
    /// or an augmented, renormalised image with its class.
    static func heldOutVariants(
        of base: [PreparedCase], count: Int, stream: UInt64, request r: TrainingRequest, source heldSource: ExampleSource,
        augmentation heldAug: AugmentPipeline, intensity: PreprocessPipeline
    ) throws -> [HeldOutItem] {
        var out: [HeldOutItem] = []
        for (ci, c) in base.enumerated() {
            for v in 0..<count {
                let seed = SeededGenerator(seed: r.config.seed).split(stream: stream + UInt64(ci * 100_000 + v)).split(stream: 7)
                var g = seed
                let s = g.next()
                if case let .heads(heads, _) = heldSource.kind {
                    let k = (ci + v) % r.artefacts.count
                    let acquisition = SynthesisedHeads.acquisitionArtefact(r.artefacts[k])
                    let base = try heads.freshImage(seed: g.next(), rng: &g, acquisition: acquisition)
                    let image = try heldSource.artefactVariant(base, artefact: acquisition == nil ? r.artefacts[k] : nil, seed: s)
                    out.append(HeldOutItem(image: image, classIndex: k))
                } else if r.artefactsFrom != nil {
                    let k = (ci + v) % r.artefacts.count
                    out.append(HeldOutItem(image: try heldSource.artefactVariant(c.image, artefact: r.artefacts[k], seed: s), classIndex: k))
                } else if r.config.task == .segmentation {
                    let (a, _) = try heldAug.apply(to: Sample(image: c.image, labels: [c.label!]), seed: s)
                    out.append(HeldOutItem(image: a.image, label: a.labels[0]))
                } else {
                    let (a, _) = try heldAug.apply(to: Sample(image: c.image), seed: s)
                    out.append(HeldOutItem(image: try intensity.apply(to: a.image).image, classIndex: c.classIndex))
                }
            }
        }
        return out
    }

    /// Provenance of the data: the request's note, each file's SHA-256, and the split.
    static func provenance(_ r: TrainingRequest, cases: [TrainingCase], training: Int, heldOut: Int) -> String {
        var prov: [String] = []
        if let note = r.dataNote { prov.append(note) }
        for c in cases {
            for p in [c.image, c.label].compactMap({ $0 }) { prov.append("\(URL(fileURLWithPath: p).lastPathComponent) sha256 \(fileDigest(p))") }
        }
        if let h = r.headFrom { prov.append("head labels \(URL(fileURLWithPath: h).lastPathComponent) sha256 \(fileDigest(h))") }
        prov.append("split seed \(r.config.seed): \(training) training, \(heldOut) held-out case(s)")
        return prov.joined(separator: "; ")
    }

    /// Runs a hyper-parameter search; returns the trials in order.
    public static func search(_ spec: SearchSpec, base: TrainingConfig, data: PreparedData, log: (String) -> Void) throws -> [SearchResult] {
        var trials: [(Double, Double, Int, Int)] = []
        switch spec.mode {
        case .grid:
            for lr in spec.learningRates { for wd in spec.weightDecays { for w in spec.widths { for d in spec.depths { trials.append((lr, wd, w, d)) } } } }
        case .random:
            var rng = SeededGenerator(seed: base.seed ^ 0x5EA2C4)
            func logUniform(_ v: [Double]) -> Double {
                let lo = v.min()!, hi = v.max()!
                guard lo > 0, hi > lo else { return v[rng.int(in: 0...(v.count - 1))] }
                return Foundation.exp(rng.uniform(Foundation.log(lo), Foundation.log(hi)))
            }
            for _ in 0..<spec.trials {
                trials.append((logUniform(spec.learningRates), logUniform(spec.weightDecays),
                               spec.widths[rng.int(in: 0...(spec.widths.count - 1))], spec.depths[rng.int(in: 0...(spec.depths.count - 1))]))
            }
        }
        var results: [SearchResult] = []
        for (i, t) in trials.enumerated() {
            var c = base
            c.learningRate = t.0
            c.weightDecay = t.1
            c.features = featuresFor(width: t.2, depth: t.3)
            c.steps = spec.steps
            c.validateEvery = spec.steps
            c.patience = nil
            let trainer = try Trainer(config: c, source: data.source, validation: data.validation, labelNames: data.labelNames)
            trainer.progressLabel = "search \(i + 1)/\(trials.count)"
            let o = try trainer.train()
            let r = SearchResult(learningRate: t.0, weightDecay: t.1, width: t.2, depth: t.3, score: o.bestScore, seconds: o.seconds)
            results.append(r)
            log(searchRow(r))
        }
        return results
    }

    static let searchHeader = "lr,weight_decay,width,depth,val_score,seconds"
    static func searchRow(_ r: SearchResult) -> String {
        String(format: "%.3g,%.3g,%d,%d,%@,%.1f", r.learningRate, r.weightDecay, r.width, r.depth, r.score.map { String(format: "%.4f", $0) } ?? "", r.seconds)
    }

    /// The whole `medvox train`: prepare, optionally search, train (resumable), evaluate, write
    /// STEM.safetensors and STEM.json. Returns the card.
    @discardableResult
    public static func run(_ request: TrainingRequest, log: (String) -> Void) throws -> ModelCard {
        var r = request
        try r.config.validate()
        let data = try prepare(r)
        let stem = r.outputStem
        var recipe: [String: String] = [:]
        if let spec = r.search { recipe = try searchHyperParameters(spec, request: &r, data: data, log: log) }
        let trainer = try Trainer(config: r.config, source: data.source, validation: data.validation, labelNames: data.labelNames)
        trainer.checkpointPath = stem + ".ckpt"
        trainer.logPath = stem + ".log.csv"
        trainer.stopAtStep = r.stopAt
        let outcome = try trainer.train(resume: r.resume)
        try trainer.net.loadStateDict(outcome.bestState, path: stem + ".ckpt")
        trainer.net.setTraining(false)
        let (evaluation, temperature) = try evaluate(trainer.net, request: r, data: data)
        recipe.merge(trainingRecipe(r, data: data, outcome: outcome)) { _, new in new }
        // Weights and card.
        let weightsFile = r.name + ".safetensors"
        let bytes = Safetensors.encode(trainer.net.stateDict(), metadata: ["format": "pt", "model": r.name])
        var card = makeCard(r, data: data, recipe: recipe, outcome: outcome, evaluation: evaluation,
                            weights: .init(file: weightsFile, sha256: SHA256.hash(bytes).hex))
        if let t = temperature { card.calibration = .init(temperature: t) }
        try card.validate(path: stem + ".json")
        let dir = URL(fileURLWithPath: stem).deletingLastPathComponent().path
        try AtomicFile.write(bytes, to: "\(dir)/\(weightsFile)")
        try AtomicFile.write([UInt8](card.encoded()), to: stem + ".json")
        return card
    }

    /// Runs the search, writes its table beside the output (`.search.csv`) and sets the request's
    /// learning rate, weight decay and features to the best trial's; returns the recipe entries
    /// that record it.
    static func searchHyperParameters(_ spec: SearchSpec, request r: inout TrainingRequest, data: PreparedData, log: (String) -> Void) throws
        -> [String: String]
    {
        log("hyper-parameter search (\(spec.mode.rawValue)): " + searchHeader)
        let results = try search(spec, base: r.config, data: data, log: log)
        try AtomicFile.write(([searchHeader] + results.map(searchRow)).joined(separator: "\n") + "\n", to: r.outputStem + ".search.csv")
        guard let best = results.filter({ $0.score != nil }).max(by: { $0.score! < $1.score! }) else {
            throw TrainingError.badSetting(name: "search", reason: "no trial produced a validation score (no held-out data)")
        }
        r.config.learningRate = best.learningRate
        r.config.weightDecay = best.weightDecay
        r.config.features = featuresFor(width: best.width, depth: best.depth)
        return [
            "search": "\(spec.mode.rawValue), \(results.count) trials of \(spec.steps) steps; best: " + searchRow(best),
            "search.table": ([searchHeader] + results.map(searchRow)).joined(separator: " | "),
        ]
    }

    /// The figures on the held-out items (4 decimals). Classifiers get temperature scaling fitted
    /// on the validation items, kept (returned) only when it lowers the validation ECE, figures with
    /// the kept calibration, per-class recall, and the validation ECE with and without the fitted
    /// temperature.
    static func evaluate(_ net: Module, request r: TrainingRequest, data: PreparedData) throws -> (ModelCard.Evaluation, temperature: Double?) {
        var evaluation: ModelCard.Evaluation
        var temperature: Double?
        if r.config.task == .segmentation, let unet = net as? UNet {
            evaluation = .init(data: data.evaluationNote, metrics: try evaluateSegmentation(unet, items: data.evaluation, labelNames: data.labelNames, patch: r.config.patch, withDistances: true))
        } else {
            let rank = r.config.spatialRank
            var calibration: TemperatureChoice?
            if !data.validation.isEmpty {
                calibration = TemperatureChoice(logits: data.validation.map { predictLogits(net, $0.image, spatialRank: rank) },
                                                truth: data.validation.map { $0.classIndex! }, classes: data.labelNames.count)
                temperature = calibration!.kept
            }
            var (m, conf) = evaluateClassification(net, items: data.evaluation, classNames: data.labelNames, spatialRank: rank,
                                                   temperature: temperature ?? 1)
            if temperature != nil {
                m["ece.uncalibrated"] = evaluateClassification(net, items: data.evaluation, classNames: data.labelNames,
                                                               spatialRank: rank).metrics["ece"]
                m["temperature"] = temperature
            }
            if let v = calibration {
                m["validation.ece.uncalibrated"] = v.uncalibratedECE
                m["validation.ece.with_fitted_temperature"] = v.fittedECE
                m["validation.fitted_temperature"] = v.fitted
            }
            for (c, row) in conf.enumerated() where row.reduce(0, +) > 0 {
                m["recall.\(data.labelNames[c])"] = Double(row[c]) / Double(row.reduce(0, +))
            }
            evaluation = .init(data: data.evaluationNote, metrics: m, confusion: conf)
        }
        evaluation.metrics = evaluation.metrics.mapValues { ($0 * 10000).rounded() / 10000 }
        return (evaluation, temperature)
    }

    /// The card's recipe: the settings of the run and what it measured.
    static func trainingRecipe(_ r: TrainingRequest, data: PreparedData, outcome: TrainingOutcome) -> [String: String] {
        let c = r.config
        var recipe: [String: String] = [:]
        recipe["batch"] = "\(c.batchSize)"
        recipe["steps"] = "\(c.steps) (\(outcome.stepsDone) run\(outcome.stoppedEarly ? ", stopped early" : "")\(r.stopAt.map { $0 < c.steps ? ", ended at step \($0) by --stop-at" : "" } ?? ""))"
        recipe["lr"] = "\(c.learningRate) \(c.schedule) schedule, warm-up \(c.warmupSteps)"
        recipe["optimizer"] = c.optimizer == "sgd" ? "SGD Nesterov 0.99" : "AdamW"
        recipe["weightDecay"] = "\(c.weightDecay)"
        recipe["loss"] = c.task == .segmentation ? "Dice + cross-entropy" : "cross-entropy"
        recipe["patch"] = c.patch.map(String.init).joined(separator: "x")
        recipe["seed"] = "\(c.seed)"
        recipe["clipNorm"] = c.clipNorm.map { "\($0)" } ?? "none"
        if c.task == .segmentation { recipe["foregroundSampling"] = "every \(c.foregroundEvery)th patch centred on a labelled voxel" }
        let augText = String(decoding: (try? { let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]; return try e.encode(data.source.augmentation) }()) ?? Data(), as: UTF8.self)
        recipe["augmentation"] = augText
        if !r.artefacts.isEmpty {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            recipe["artefacts"] = r.artefacts.map { $0.flatMap { try? e.encode($0) }.map { String(decoding: $0, as: UTF8.self) } ?? "clean" }.joined(separator: " | ")
        }
        if r.headFrom != nil, case let .heads(h, _) = data.source.kind {
            let t = h.synthesis
            func mm(_ r: ClosedRange<Double>) -> String { "\(r.lowerBound)-\(r.upperBound) mm" }
            let parts: [String] = [
                "HeadSynthesis around the brain labels at 2 mm, pool of \(h.pool.count) heads: extra-cerebral CSF " + mm(t.csfThickness),
                "skull " + mm(t.skullThickness) + " (diploe from \(t.diploeMinimumSkull) mm)", "muscle " + mm(t.muscleThickness),
                "fat " + mm(t.fatThickness), "skin " + mm(t.skinThickness), "eyes of radius " + mm(t.eyeRadius), "neck",
                "\(t.clutterBlobs.lowerBound)-\(t.clutterBlobs.upperBound) clutter blobs", "head-rest p \(t.headRestProbability)",
                "clean images: template T1 in the brain or per-label random intensities (half each, no bias field)",
                "head scale \(h.headScale.lowerBound)-\(h.headScale.upperBound)", "field of view 0.8-1.25 x the input's",
                "clean noise std \(h.cleanNoise.lowerBound)-\(h.cleanNoise.upperBound) on the head grid before the preprocessing",
                "the noise class on the head grid before the preprocessing, the other artefacts on the network input",
                "skull-stripped p \(h.skullStrippedProbability)",
            ]
            recipe["head"] = parts.joined(separator: "; ")
        }
        recipe["bestStep"] = "\(outcome.bestStep)"
        if let s = outcome.bestScore { recipe["bestValidationScore"] = String(format: "%.4f", s) }
        recipe["stepsPerSecond"] = String(format: "%.3f", outcome.stepsPerSecond)
        if let p = outcome.peakBytes { recipe["peakMemoryMB"] = "\(p >> 20)" }
        recipe["threads"] = "\(Runtime.threads)"
        return recipe
    }

    /// The model card of a finished run (the calibration is set by the caller).
    static func makeCard(
        _ r: TrainingRequest, data: PreparedData, recipe: [String: String], outcome: TrainingOutcome, evaluation: ModelCard.Evaluation,
        weights: ModelCard.WeightsInfo
    ) -> ModelCard {
        let c = r.config
        let isSeg = c.task == .segmentation
        let colors: [[Int]?] = [nil, [70, 130, 255], [255, 160, 60], [240, 240, 240], [220, 60, 60], [80, 200, 120], [200, 80, 220]]
        return ModelCard(
            name: r.name, version: "1.0.0", task: c.task,
            description: isSeg ? "\(c.spatialRank)D U-Net segmentation (\(data.labelNames.joined(separator: "/")))"
                : "\(c.spatialRank)D ResNet classifier (\(data.labelNames.joined(separator: "/")))",
            architecture: .init(kind: isSeg ? "unet" : "resnet", spatialRank: c.spatialRank, inChannels: 1, classes: c.classes,
                                features: isSeg ? c.features : nil, widths: isSeg ? nil : c.features),
            labels: data.labelNames.enumerated().map { .init(value: $0.offset, name: $0.element, color: isSeg && $0.offset < colors.count ? colors[$0.offset] : nil) },
            input: .init(modality: r.modality, contrast: r.contrast, spacing: r.spacing,
                         patchSize: c.spatialRank == 3 ? c.patch : Array(c.patch.prefix(2)), intensityRange: [0, 1]),
            preprocessing: data.pipeline,
            training: .init(command: r.command, data: data.provenance, recipe: recipe, steps: outcome.stepsDone, seconds: (outcome.seconds * 10).rounded() / 10),
            evaluation: evaluation,
            weights: weights)
    }
}
