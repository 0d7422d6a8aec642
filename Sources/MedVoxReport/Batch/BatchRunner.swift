import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxInference

#if canImport(Glibc)
    import Glibc
#endif

/// What a batch does with each case.
public struct BatchOptions: Sendable {
    public var segmentModel: String?
    public var classifyModel: String?
    public var phi = false
    /// DICOM cases with a segmentation: also write CASE/seg.dcm (a DICOM Segmentation object).
    public var dicomSeg = false
    /// Decide whether a case is done by the SHA-256 of its whole input files (recorded when the
    /// case was made) instead of the fast fingerprint.
    public var verify = false
    /// Cases processed at once.
    public var jobs = 1
    /// Memory the concurrent cases may use together (bytes).
    public var maxMemory = Runtime.maxMemory
    public var version = "?"
    public init() {}
}

/// The record of one case: `OUT_DIR/CASE/case.json` when done, `OUT_DIR/.failed/CASE.json` when
/// it failed. Summaries and the index are built from these records alone, so shards that share an
/// output folder merge by reading them.
public struct CaseRecord: Codable, Sendable, Equatable {
    public var id: String
    public var input: String
    /// "done" or "failed".
    public var status: String
    public var error: String?
    /// The fast input fingerprint (`BatchCase.fingerprint()`).
    public var fingerprint: String
    /// SHA-256 of the whole input files (`BatchCase.contentHash()`), compared by `--verify`.
    public var contentSHA256: String?
    /// Weights SHA-256 by model name: a rerun redoes cases made with other weights.
    public var models: [String: String]
    /// Every option that changes the case's outputs (`BatchRunner.settings(for:)`): a rerun
    /// redoes a case made with other settings. Absent in records older than this field, which
    /// are therefore redone.
    public var settings: [String: String]?
    public var seconds: Double
    /// Segmentation: volume in mL by label name.
    public var volumesML: [String: Double]?
    public var topClass: String?
    public var confidence: Double?
    public var warnings: [String]
    public init(id: String, input: String, status: String, error: String? = nil, fingerprint: String, models: [String: String],
                settings: [String: String]? = nil, seconds: Double, warnings: [String] = []) {
        self.id = id
        self.input = input
        self.status = status
        self.error = error
        self.fingerprint = fingerprint
        self.models = models
        self.settings = settings
        self.seconds = seconds
        self.warnings = warnings
    }
}

/// Runs a batch: each case converted, segmented and/or classified, with its report, written to
/// `OUT_DIR/CASE/` as a whole (built in a hidden folder, then renamed into place), so a run killed
/// at any moment leaves complete cases and nothing half-written; a rerun skips cases whose
/// record matches the input fingerprint (or, with `verify`, the whole-content hash), the model
/// hashes and every output-affecting option, and redoes the others.
public final class BatchRunner {
    public let options: BatchOptions
    public let outDir: String
    let plan: BatchPlan
    /// One model instance per concurrent job, loaded once for the whole run.
    var segmenters: [Segmenter] = []
    var classifiers: [Classifier] = []
    var modelHashes: [String: String] = [:]
    /// SHA-256 of each model's card (its JSON re-encoded with sorted keys) by task: the card holds
    /// the preprocessing, labels and post-processing that shape the outputs.
    var cardHashes: [String: String] = [:]

    public init(plan: BatchPlan, outDir: String, options: BatchOptions) throws {
        guard options.segmentModel != nil || options.classifyModel != nil else { throw BatchError.noModel }
        self.plan = plan
        self.outDir = URL(fileURLWithPath: outDir).standardizedFileURL.path
        self.options = options
        let jobs = max(1, options.jobs)
        for _ in 0..<jobs {
            if let m = options.segmentModel {
                let model = try LoadedModel.load(m)
                modelHashes[model.card.name] = model.card.weights.sha256
                cardHashes["segment"] = try Self.cardHash(model.card)
                segmenters.append(try Segmenter(model: model))
            }
            if let m = options.classifyModel {
                let model = try LoadedModel.load(m)
                modelHashes[model.card.name] = model.card.weights.sha256
                cardHashes["classify"] = try Self.cardHash(model.card)
                classifiers.append(try Classifier(model: model))
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: self.outDir + "/.failed", withIntermediateDirectories: true)
        } catch {
            throw FileError.cannotWrite(path: outDir, reason: error.localizedDescription)
        }
    }

    public var caseRecordName: String { "case.json" }

    static func cardHash(_ card: ModelCard) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return SHA256.hash([UInt8](try e.encode(card))).hex
    }

    /// The options that change `c`'s outputs, recorded in its `case.json`: `phi` (patient
    /// attributes in the report, JSON and DICOM outputs), `dicomSeg` (DICOM cases only: whether
    /// `seg.dcm` is written) and the card hash of each model by task (`segment`, `classify`; the
    /// weights are in `models`). An option added to `BatchOptions` that changes outputs belongs
    /// here, so that a rerun with another value redoes the case.
    public func settings(for c: BatchCase) -> [String: String] {
        var s = cardHashes
        s["phi"] = options.phi ? "yes" : "no"
        if case .dicom = c.kind { s["dicomSeg"] = options.dicomSeg ? "yes" : "no" }
        return s
    }

    /// True when `c` has a finished record made from the same input (the fast fingerprint, or
    /// with `verify` the SHA-256 of the whole files), the same models and the same settings.
    public func isDone(_ c: BatchCase) -> Bool {
        guard let d = FileManager.default.contents(atPath: "\(outDir)/\(c.id)/case.json"),
            let r = try? JSONDecoder().decode(CaseRecord.self, from: d),
            r.status == "done", r.models == modelHashes, r.settings == settings(for: c)
        else { return false }
        if options.verify { return r.contentSHA256 == c.contentHash() }
        return r.fingerprint == c.fingerprint()
    }

    /// The cases of `cases` that are not done (`isDone`).
    public func pending(_ cases: [BatchCase]) -> [BatchCase] { cases.filter { !isDone($0) } }

    /// Processes `cases` (skipping those already done; `pending` when the caller has already
    /// worked them out) and returns every record of this run.
    public func run(_ cases: [BatchCase], pending: [BatchCase]? = nil, progress: MedVoxCore.Progress? = nil) -> [CaseRecord] {
        removeLeftovers(cases)
        let todo = pending ?? self.pending(cases)
        let jobs = max(1, min(options.jobs, todo.count))
        let threadsPerJob = max(1, Runtime.threads / jobs)
        let savedThreads = Runtime.threads
        Runtime.threads = threadsPerJob
        defer { Runtime.threads = savedThreads }
        var records = [CaseRecord?](repeating: nil, count: todo.count)
        let gate = MemoryGate(budget: options.maxMemory)
        let slots = SlotPool(jobs)
        let lock = NSLock()
        let next = NextIndex()
        DispatchQueue.concurrentPerform(iterations: jobs) { _ in
            while let i = next.take(todo.count) {
                let c = todo[i]
                let need = estimateBytes(c)
                gate.acquire(need)
                let slot = slots.take()
                lock.lock()
                progress?.detail = c.id
                lock.unlock()
                let r = process(c, slot: slot)
                slots.give(slot)
                gate.release(need)
                lock.lock()
                records[i] = r
                lock.unlock()
                progress?.advance()
            }
        }
        return records.compactMap { $0 }
    }

    /// Rough peak bytes of one case: the image and its float copies through preprocessing,
    /// inference accumulators and the report (≈ 24 bytes per voxel), plus the network's working set.
    func estimateBytes(_ c: BatchCase) -> Int {
        let voxels: Int
        switch c.kind {
        case let .nifti(path): voxels = (try? ImageFile.open(path).dims.reduce(1, *)) ?? 0
        case let .dicom(selector):
            let s = plan.scan?.series.first { $0.selector == selector }
            voxels = (try? s?.geometry().dims.reduce(1, *)) ?? 0
        }
        let network = segmenters.first.map { $0.forwardBytes(window: $0.model.card.input.patchSize.count == 3 ? $0.model.card.input.patchSize : [64, 64, 64]) } ?? 0
        return voxels * 24 + network
    }

    /// Hidden work folders of these cases, and temporary files of the study index and failure
    /// records, left by a killed run.
    func removeLeftovers(_ cases: [BatchCase]) {
        AtomicFile.removeStaleTemporaries(in: outDir)
        AtomicFile.removeStaleTemporaries(in: outDir + "/.failed")
        let ids = Set(cases.map(\.id))
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outDir)) ?? []
        for n in names where n.hasPrefix(".") && (n.contains(".partial-") || n.contains(".old-")) {
            let id = String(n.dropFirst().prefix { $0 != "." })
            if ids.contains(where: { n.hasPrefix(".\($0).") }) || ids.contains(id) {
                try? FileManager.default.removeItem(atPath: "\(outDir)/\(n)")
            }
        }
    }

    func process(_ c: BatchCase, slot: Int) -> CaseRecord {
        let start = Date()
        let work = "\(outDir)/.\(c.id).partial-\(getpid())-\(slot)"
        try? FileManager.default.removeItem(atPath: work)
        // Taken before the input is read, so an input changed during the run is redone next time.
        let fingerprint = c.fingerprint(), content = c.contentHash()
        do {
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            var record = try build(c, in: work, slot: slot)
            record.fingerprint = fingerprint
            record.contentSHA256 = content
            record.seconds = Date().timeIntervalSince(start)
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write([UInt8](try e.encode(record)), to: "\(work)/\(caseRecordName)")
            try publish(work, as: c.id)
            try? FileManager.default.removeItem(atPath: "\(outDir)/.failed/\(c.id).json")
            return record
        } catch {
            try? FileManager.default.removeItem(atPath: work)
            // An earlier output of this case no longer matches its input or options (it may
            // hold patient data this run leaves out): the failure replaces it.
            removeCase(c.id)
            let message = (error as? MedVoxError)?.description ?? "\(error)"
            let record = CaseRecord(
                id: c.id, input: c.display, status: "failed", error: message, fingerprint: fingerprint,
                models: modelHashes, settings: settings(for: c), seconds: Date().timeIntervalSince(start))
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            if let data = try? e.encode(record) {
                try? AtomicFile.write([UInt8](data), to: "\(outDir)/.failed/\(c.id).json")
            }
            return record
        }
    }

    /// Removes `OUT_DIR/id` (renamed to a hidden name first, so no half-removed case folder is
    /// ever listed).
    func removeCase(_ id: String) {
        let final = "\(outDir)/\(id)"
        guard FileManager.default.fileExists(atPath: final) else { return }
        let old = "\(outDir)/.\(id).old-\(getpid())"
        if rename(final, old) == 0 { try? FileManager.default.removeItem(atPath: old) }
    }

    /// Moves a finished work folder to `OUT_DIR/id`, replacing an older one.
    func publish(_ work: String, as id: String) throws {
        let final = "\(outDir)/\(id)"
        let old = "\(outDir)/.\(id).old-\(getpid())"
        if FileManager.default.fileExists(atPath: final) {
            guard rename(final, old) == 0 else { throw FileError.cannotWrite(path: final, reason: String(cString: strerror(errno))) }
        }
        guard rename(work, final) == 0 else { throw FileError.cannotWrite(path: final, reason: String(cString: strerror(errno))) }
        try? FileManager.default.removeItem(atPath: old)
    }

    func build(_ c: BatchCase, in work: String, slot: Int) throws -> CaseRecord {
        let source: any ImageSource
        switch c.kind {
        case let .nifti(path): source = NIfTISource(try NIfTIFile.open(path))
        case let .dicom(selector):
            guard let scan = plan.scan else { throw FileError.cannotRead(path: c.display, reason: "DICOM scan missing") }
            source = try DICOMSource(scan: scan, path: plan.root, options: DICOMReadOptions(seriesUID: selector))
        }
        let volume = try source.volume()
        try ImageFile.write(volume, to: "\(work)/image.nii.gz")
        let modality = source.modality
        var builder = ReportBuilder(source: source, image: volume, phi: options.phi, version: options.version)
        var record = CaseRecord(
            id: c.id, input: c.display, status: "done", fingerprint: "", models: modelHashes, settings: settings(for: c), seconds: 0)
        var overlay: Volume?
        if !segmenters.isEmpty {
            let s = segmenters[slot]
            let result = try s.segment(volume, modality: modality)
            try ImageFile.write(result.mask, to: "\(work)/mask.nii.gz", as: .uint8)
            try builder.addSegmentation(model: s.model, result: result, maskFile: "mask.nii.gz")
            if options.dicomSeg, source is DICOMSource {
                try DICOMSeg.write(mask: result.mask, source: source, model: s.model, software: "medvox \(options.version)", phi: options.phi, to: "\(work)/seg.dcm")
            }
            overlay = result.mask
            var volumes: [String: Double] = [:]
            for l in builder.report.segmentation?.labels ?? [] { volumes[l.name] = l.volumeML }
            record.volumesML = volumes
        }
        if !classifiers.isEmpty {
            let k = classifiers[slot]
            let result = try k.classify(volume, modality: modality)
            try builder.addClassification(model: k.model, result: result)
            record.topClass = result.topClass
            record.confidence = result.confidence
        }
        var report = builder.report
        report.input.imageFile = "image.nii.gz"
        try ReportWriter.write(report, figures: builder.figures, to: work)
        record.warnings = report.warnings.map(\.code)
        var thumb = try SliceRenderer(volume: volume.frames > 1 ? volume.frame(0) : volume, overlay: overlay)
        thumb.minimumSize = 96
        try PNG.write(thumb.slice(.axial).raster, to: "\(work)/thumbnail.png")
        return record
    }
}

/// Admits work while the bytes in use stay within a budget (a job larger than the budget runs
/// alone).
final class MemoryGate: @unchecked Sendable {
    let budget: Int
    var used = 0
    let condition = NSCondition()
    init(budget: Int) { self.budget = budget }
    func acquire(_ n: Int) {
        condition.lock()
        while used > 0 && used + n > budget { condition.wait() }
        used += n
        condition.unlock()
    }
    func release(_ n: Int) {
        condition.lock()
        used -= n
        condition.broadcast()
        condition.unlock()
    }
}

/// Hands out model slots (one model instance per concurrent job).
final class SlotPool: @unchecked Sendable {
    var free: [Int]
    let condition = NSCondition()
    init(_ n: Int) { free = Array((0..<n).reversed()) }
    func take() -> Int {
        condition.lock()
        while free.isEmpty { condition.wait() }
        let s = free.removeLast()
        condition.unlock()
        return s
    }
    func give(_ s: Int) {
        condition.lock()
        free.append(s)
        condition.signal()
        condition.unlock()
    }
}

final class NextIndex: @unchecked Sendable {
    var value = 0
    let lock = NSLock()
    func take(_ count: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < count else { return nil }
        value += 1
        return value - 1
    }
}
