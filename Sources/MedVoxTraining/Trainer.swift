import Foundation
import MedVoxCore
import MedVoxInference
import MedVoxNN
import MedVoxTensor
import MedVoxTransforms

/// The settings of one training run (saved in checkpoints and, as the recipe, in the card).
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var task: ModelCard.Task
    /// 2 (slice by slice) or 3.
    public var spatialRank: Int
    public var classes: Int
    /// U-Net features per level (segmentation) or ResNet stage widths (classification).
    public var features: [Int]
    /// Network input size along i, j, k (2D: k = 1). Classification: the whole (fixed) image.
    public var patch: [Int]
    public var batchSize: Int = 2
    public var steps: Int
    public var learningRate: Double = 1e-3
    public var weightDecay: Double = 1e-4
    /// "adamw" or "sgd" (Nesterov momentum 0.99, as nnU-Net).
    public var optimizer: String = "adamw"
    /// "poly" (nnU-Net, exponent 0.9), "cosine" or "constant".
    public var schedule: String = "poly"
    public var warmupSteps: Int = 0
    /// Global gradient-norm clip (nnU-Net: 12); nil: none.
    public var clipNorm: Double? = 12
    public var seed: UInt64 = 0
    /// Validate (and checkpoint) every this many steps, and at the end.
    public var validateEvery: Int = 50
    /// Stop after this many validations in a row without improvement (nil: never).
    public var patience: Int?
    /// Every n-th patch centred on foreground (3: one third, as nnU-Net).
    public var foregroundEvery: Int = 3

    public init(task: ModelCard.Task, spatialRank: Int, classes: Int, features: [Int], patch: [Int], steps: Int) {
        self.task = task
        self.spatialRank = spatialRank
        self.classes = classes
        self.features = features
        self.patch = patch
        self.steps = steps
    }

    /// Network input spatial shape (tensor order: k, j, i; 2D: j, i).
    public var spatialShape: [Int] { spatialRank == 3 ? [patch[2], patch[1], patch[0]] : [patch[1], patch[0]] }

    public func validate() throws {
        func bad(_ n: String, _ r: String) -> TrainingError { .badSetting(name: n, reason: r) }
        guard spatialRank == 2 || spatialRank == 3 else { throw bad("dims", "must be 2 or 3") }
        guard patch.count == 3, patch.allSatisfy({ $0 >= 1 && $0 <= 512 }), spatialRank == 3 || patch[2] == 1 else {
            throw bad("patch", "three sizes in 1...512 (a 2D model: k = 1)")
        }
        guard !features.isEmpty, features.allSatisfy({ (1...1024).contains($0) }) else { throw bad("features", "widths in 1...1024") }
        if task == .segmentation {
            guard features.count >= 2 else { throw bad("features", "a U-Net needs at least two levels") }
            let m = 1 << (features.count - 1)
            for a in 0..<spatialRank where patch[a] % m != 0 {
                throw bad("patch", "\(patch) must be divisible by \(m) (2^(levels−1)) along each network axis")
            }
        }
        guard classes >= 2 else { throw bad("classes", "at least two") }
        guard (1...256).contains(batchSize) else { throw bad("batch", "1...256") }
        guard steps >= 1 else { throw bad("steps", "at least 1") }
        guard learningRate > 0, learningRate.isFinite else { throw bad("lr", "positive") }
        guard weightDecay >= 0 else { throw bad("weight-decay", "≥ 0") }
        guard ["adamw", "sgd"].contains(optimizer) else { throw bad("optimizer", "adamw or sgd") }
        guard ["poly", "cosine", "constant"].contains(schedule) else { throw bad("schedule", "poly, cosine or constant") }
        guard validateEvery >= 1 else { throw bad("validate-every", "at least 1") }
    }

    func learningRate(at step: Int) -> Double {
        switch schedule {
        case "poly":
            let base = PolynomialSchedule(initial: learningRate, totalSteps: steps).learningRate(at: step)
            return step < warmupSteps ? learningRate * Double(step + 1) / Double(warmupSteps) : base
        case "cosine":
            return CosineSchedule(initial: learningRate, warmupSteps: warmupSteps, totalSteps: steps).learningRate(at: step)
        default:
            return step < warmupSteps ? learningRate * Double(step + 1) / Double(warmupSteps) : learningRate
        }
    }

    /// A freshly initialised network (weights from the seed).
    public func makeNetwork() -> Module {
        var rng = SeededGenerator(seed: seed ^ 0x1417_0000)
        if task == .segmentation {
            return UNet(spatialRank: spatialRank, inChannels: 1, classes: classes, features: features, rng: &rng)
        }
        return ResNetClassifier(spatialRank: spatialRank, inChannels: 1, classes: classes, widths: features, rng: &rng)
    }
}

/// One row of the training log (CSV: step,lr,loss,val_score,seconds).
public struct LogRow: Equatable, Sendable {
    public var step: Int
    public var learningRate: Double
    public var loss: Double
    public var validation: Double?
    public var seconds: Double

    var csv: String {
        "\(step),\(learningRate),\(loss),\(validation.map { String($0) } ?? ""),\(String(format: "%.3f", seconds))"
    }
    static let header = "step,lr,loss,val_score,seconds"
    init(step: Int, learningRate: Double, loss: Double, validation: Double?, seconds: Double) {
        self.step = step
        self.learningRate = learningRate
        self.loss = loss
        self.validation = validation
        self.seconds = seconds
    }
    init?(csv line: Substring) {
        let f = line.split(separator: ",", omittingEmptySubsequences: false)
        guard f.count == 5, let s = Int(f[0]), let lr = Double(f[1]), let l = Double(f[2]), let t = Double(f[4]) else { return nil }
        self.init(step: s, learningRate: lr, loss: l, validation: Double(f[3]), seconds: t)
    }
}

/// What a run produced: the best weights (by validation score; the last ones without validation).
public struct TrainingOutcome {
    public var bestState: [String: Tensor]
    public var bestScore: Double?
    public var bestStep: Int
    public var stepsDone: Int
    public var stoppedEarly: Bool
    /// Training time: this process's, plus the logged step times of the steps run before a resume;
    /// and the rate of the steps.
    public var seconds: Double
    public var stepsPerSecond: Double
    public var log: [LogRow]
    /// Peak resident memory over all processes of the run (kept in the checkpoint), bytes.
    public var peakBytes: Int?
}

/// Trains a network on examples from an `ExampleSource`, validating on held-out items.
///
/// Resumable: every `validateEvery` steps (and at the end) the checkpoint — weights, optimizer
/// state, step, best weights and score, early-stopping counter, and the config (whose seed with the
/// step number fixes all randomness still to come) — is written atomically; `train(resume: true)`
/// continues from it and reproduces the uninterrupted run bit for bit.
public final class Trainer {
    public let config: TrainingConfig
    public let source: ExampleSource
    public let validation: [HeldOutItem]
    public let labelNames: [String]
    public let net: Module
    let optimizer: Optimizer
    public var checkpointPath: String?
    public var logPath: String?
    /// Stop this process after this many steps (for tests of resuming after a kill).
    public var stopAfterSteps: Int?
    /// End the run at this step (counted from the start of training), before `config.steps`: the
    /// schedule still follows `config.steps`, the last step is validated and checkpointed, and the
    /// outcome is final (`--stop-at`).
    public var stopAtStep: Int?
    /// Progress bar label (nil: none).
    public var progressLabel: String? = "train"

    public init(config: TrainingConfig, source: ExampleSource, validation: [HeldOutItem], labelNames: [String]) throws {
        try config.validate()
        self.config = config
        self.source = source
        self.validation = validation
        self.labelNames = labelNames
        net = config.makeNetwork()
        let params = net.parameters()
        if config.optimizer == "sgd" {
            optimizer = SGD(params, learningRate: config.learningRate, momentum: 0.99, nesterov: true, weightDecay: config.weightDecay)
        } else {
            optimizer = Adam.adamW(params, learningRate: config.learningRate, weightDecay: config.weightDecay)
        }
    }

    /// Validation score: mean foreground Dice (segmentation) or macro one-vs-rest AUC, falling back
    /// to accuracy when AUC is undefined (classification). Nil without validation items.
    public func validationScore() throws -> Double? {
        guard !validation.isEmpty else { return nil }
        net.setTraining(false)
        defer { net.setTraining(true) }
        if config.task == .segmentation, let unet = net as? UNet {
            return try evaluateSegmentation(unet, items: validation, labelNames: labelNames, patch: config.patch, withDistances: false)["dice.mean"] ?? 0
        }
        let m = evaluateClassification(net, items: validation, classNames: labelNames, spatialRank: config.spatialRank).metrics
        return m["auc"] ?? m["accuracy"]
    }

    /// One optimisation step on examples `step·B ..< (step+1)·B`; returns the loss.
    func step(_ step: Int) throws -> Double {
        let b = config.batchSize
        return networkStep(step, try examples(step * b ..< (step + 1) * b))
    }

    /// Examples `numbers` of the run, made in parallel: each depends only on its number and the
    /// run's seed, so the batch is the same on any thread count. The first error is rethrown.
    func examples(_ numbers: Range<Int>) throws -> [Example] {
        let results = ExampleSlots(count: numbers.count)
        let (source, seed, first) = (source, config.seed, numbers.lowerBound)
        parallelFor(numbers.count) { i in results.set(i, Result { try source.example(first + i, seed: seed) }) }
        return try results.values()
    }

    /// The network part of step `step` on prepared examples: forward, loss, backward, update.
    package func networkStep(_ step: Int, _ examples: [Example]) -> Double {
        optimizer.learningRate = config.learningRate(at: step)
        let (x, t) = batchTensors(examples, spatialShape: config.spatialShape)
        let logits = net(Variable(x))
        let loss = config.task == .segmentation ? diceCrossEntropyLoss(logits, target: t) : crossEntropy(logits, target: t)
        optimizer.zeroGrad()
        loss.backward()
        if let c = config.clipNorm { clipGradientNorm(optimizer.parameters, maxNorm: c) }
        optimizer.step()
        return Double(loss.value.storage[0])
    }

    struct State {
        var step = 0
        var best: [String: Tensor]? = nil
        var bestScore: Double? = nil
        var bestStep = 0
        var bad = 0
        var log: [LogRow] = []
        var peak = 0
    }

    public func train(resume: Bool = false) throws -> TrainingOutcome {
        var st = State()
        if resume, let p = checkpointPath, FileManager.default.fileExists(atPath: p) { st = try loadCheckpoint(p) }
        net.setTraining(true)
        let progress = progressLabel.map { Progress($0, total: config.steps) }
        if st.step > 0 { progress?.advance(st.step) }
        let start = Date()
        // Time of the steps run before a resume (their log rows), so that `seconds` covers the whole run.
        let earlierSeconds = st.log.reduce(0) { $0 + $1.seconds }
        var ran = 0
        var stoppedEarly = false
        var lossSum = 0.0, lossCount = 0
        let lastStep = min(config.steps, stopAtStep ?? config.steps)
        while st.step < lastStep {
            if let s = stopAfterSteps, ran >= s { break }
            let t0 = Date()
            let loss = try step(st.step)
            st.step += 1
            ran += 1
            lossSum += loss
            lossCount += 1
            var row = LogRow(step: st.step, learningRate: config.learningRate(at: st.step - 1), loss: loss, validation: nil,
                             seconds: Date().timeIntervalSince(t0))
            let atEnd = st.step == config.steps || st.step == stopAtStep
            if st.step % config.validateEvery == 0 || atEnd {
                let score = try validationScore()
                row.validation = score
                if let score, score > (st.bestScore ?? -.infinity) {
                    st.bestScore = score
                    st.best = net.stateDict()
                    st.bestStep = st.step
                    st.bad = 0
                } else if score != nil {
                    st.bad += 1
                }
                if let p = config.patience, st.bad >= p { stoppedEarly = true }
            }
            st.log.append(row)
            if let progress {
                let v = st.bestScore.map { String(format: " best %.4f", $0) } ?? ""
                progress.detail = String(format: "loss %.4f", lossSum / Double(max(lossCount, 1))) + v
                progress.advance()
            }
            if st.step % config.validateEvery == 0 || atEnd || stoppedEarly {
                lossSum = 0
                lossCount = 0
                try saveCheckpoint(st)
                try writeLog(st.log)
            }
            if stoppedEarly { break }
        }
        if st.step >= lastStep || stoppedEarly { progress?.finish() }
        let elapsed = Date().timeIntervalSince(start)
        let seconds = earlierSeconds + elapsed
        // Training speed over the whole run (resumed parts included): steps without validation.
        let plain = st.log.filter { $0.validation == nil }
        let plainSeconds = plain.reduce(0) { $0 + $1.seconds }
        let rate = plainSeconds > 0 ? Double(plain.count) / plainSeconds : (ran > 0 ? Double(ran) / elapsed : 0)
        let peak = max(st.peak, peakResidentBytes() ?? 0)
        return TrainingOutcome(
            bestState: st.best ?? net.stateDict(), bestScore: st.bestScore, bestStep: st.best == nil ? st.step : st.bestStep,
            stepsDone: st.step, stoppedEarly: stoppedEarly, seconds: seconds,
            stepsPerSecond: rate, log: st.log, peakBytes: peak > 0 ? peak : nil)
    }

    // MARK: Checkpoints and log

    func configJSON() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: (try? e.encode(config)) ?? Data(), as: UTF8.self)
    }

    func saveCheckpoint(_ st: State) throws {
        guard let path = checkpointPath else { return }
        var t: [String: Tensor] = [:]
        for (k, v) in net.stateDict() { t["model.\(k)"] = v }
        if let b = st.best { for (k, v) in b { t["best.\(k)"] = v } }
        if let adam = optimizer as? Adam {
            let s = adam.state
            for i in 0..<s.m.count {
                t["opt.m.\(i)"] = s.m[i]
                t["opt.v.\(i)"] = s.v[i]
            }
            t["opt.steps"] = Tensor(shape: [s.steps.count], storage: s.steps.map(Float.init))
        } else if let sgd = optimizer as? SGD {
            for (i, b) in sgd.state.enumerated() { if let b { t["opt.b.\(i)"] = b } }
        }
        var meta = ["step": "\(st.step)", "best_step": "\(st.bestStep)", "bad_validations": "\(st.bad)", "config": configJSON(),
                    "rng": "seed \(config.seed); example n draws from SeededGenerator(seed).split(stream: n)"]
        if let s = st.bestScore { meta["best_score"] = "\(s.bitPattern)" }
        meta["peak_rss_bytes"] = "\(max(st.peak, peakResidentBytes() ?? 0))"
        try Safetensors.write(t, metadata: meta, to: path)
    }

    func loadCheckpoint(_ path: String) throws -> State {
        let (t, meta) = try Safetensors.read(path: path)
        guard meta["config"] == configJSON() else {
            throw TrainingError.badCheckpoint(path: path, reason: "it was made with different settings")
        }
        guard let step = meta["step"].flatMap(Int.init), let bestStep = meta["best_step"].flatMap(Int.init),
            let bad = meta["bad_validations"].flatMap(Int.init)
        else { throw TrainingError.badCheckpoint(path: path, reason: "missing step metadata") }
        var model: [String: Tensor] = [:], best: [String: Tensor] = [:]
        for (k, v) in t {
            if k.hasPrefix("model.") { model[String(k.dropFirst(6))] = v }
            if k.hasPrefix("best.") { best[String(k.dropFirst(5))] = v }
        }
        try net.loadStateDict(model, path: path)
        let n = optimizer.parameters.count
        if let adam = optimizer as? Adam {
            guard let steps = t["opt.steps"], steps.count == n else { throw TrainingError.badCheckpoint(path: path, reason: "no optimizer state") }
            var m: [Tensor] = [], v: [Tensor] = []
            for i in 0..<n {
                guard let mi = t["opt.m.\(i)"], let vi = t["opt.v.\(i)"], mi.shape == optimizer.parameters[i].shape, vi.shape == mi.shape else {
                    throw TrainingError.badCheckpoint(path: path, reason: "optimizer state \(i) missing or misshapen")
                }
                m.append(mi)
                v.append(vi)
            }
            adam.state = (m, v, steps.storage.map { Int($0) })
        } else if let sgd = optimizer as? SGD {
            sgd.state = (0..<n).map { t["opt.b.\($0)"] }
        }
        var st = State()
        st.step = step
        st.bestStep = bestStep
        st.bad = bad
        st.best = best.isEmpty ? nil : best
        st.bestScore = meta["best_score"].flatMap(UInt64.init).map(Double.init(bitPattern:))
        st.peak = meta["peak_rss_bytes"].flatMap(Int.init) ?? 0
        if let lp = logPath, let text = try? String(contentsOfFile: lp, encoding: .utf8) {
            st.log = text.split(separator: "\n").dropFirst().compactMap(LogRow.init(csv:)).filter { $0.step <= step }
        }
        return st
    }

    func writeLog(_ rows: [LogRow]) throws {
        guard let p = logPath else { return }
        try AtomicFile.write(([LogRow.header] + rows.map(\.csv)).joined(separator: "\n") + "\n", to: p)
    }
}

/// Peak resident memory of this process so far (VmHWM), in bytes; nil where unknown.
public func peakResidentBytes() -> Int? {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let parts = line.split(separator: " ")
        if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
    }
    return nil
}
