import Foundation
import MedVoxCore
import MedVoxReport

/// `medvox batch STUDY_DIR -o OUT_DIR`: every case of a study folder through the asked tasks,
/// resumable, shardable across a job array; `--merge OUT_DIR` rebuilds the study index.
struct BatchCommand: Command {
    static let spec = CommandSpec(
        """
        batch: process every case of a study folder (DICOM series and NIfTI files); resumable and shardable
          STUDY_DIR                 the study folder (with --merge: the output folder)
          --output OUT_DIR          where each case's folder, summary.csv/json and index.html go; also -o
          --segment MODEL           segment each case with this model (name or card path)
          --classify MODEL          classify each case with this model
          --jobs N                  cases processed at once (threads are divided between them; default 1)
          --shard K/N               process only shard K of N (1-based); default: from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX
          --shards N                number of shards when JOB_COMPLETION_INDEX (Kubernetes indexed Job) selects the shard
          --include GLOB...        only inputs whose path (relative to STUDY_DIR) matches; repeatable
          --exclude GLOB...        leave out inputs whose relative path matches; repeatable
          --all-series              also process localizer, derived and secondary-capture series
          --dry-run                 list the cases (and what would be skipped), do nothing
          --merge                   rebuild summary.csv, summary.json and index.html of the output folder STUDY_DIR from its cases
          --phi                     DICOM: include patient-identifying attributes in reports
          --dicom-seg               DICOM cases: also write the mask as a DICOM Segmentation, CASE/seg.dcm
          --verify                  count a case as done only when the SHA-256 of its whole input files matches

        Examples:
          medvox batch study/ -o out/ --segment brain-tissue --classify brain-qc --jobs 2
          medvox batch study/ -o out/ --segment brain-tissue --shard 3/8
          medvox batch --merge out/
        A rerun skips a case only when its input fingerprint (each file's path, size,
        modification time and the SHA-256 of its first and last MiB), the models (weights
        and card) and the options that change its outputs (--phi, --dicom-seg) all match
        the case's record; otherwise the case is redone. --verify compares the SHA-256 of
        the whole input files instead of the fingerprint.
        Exit status 0 when every case succeeded, 1 when any failed (the count goes to stderr).
        """)

    let study: String
    let output: String?
    let merge: Bool
    let dryRun: Bool
    let include: [String], exclude: [String]
    let allSeries: Bool
    let options: BatchOptions
    let shard: (index: Int, count: Int)?

    init(_ args: ParsedArguments) throws {
        study = args.positionals[0]
        merge = args.flag("merge")
        dryRun = args.flag("dry-run")
        output = merge ? study : args.value("output")
        if !merge && !dryRun && output == nil { throw UsageError("missing -o OUT_DIR", command: Self.spec) }
        include = args.all("include")
        exclude = args.all("exclude")
        allSeries = args.flag("all-series")
        var o = BatchOptions()
        o.segmentModel = args.value("segment")
        o.classifyModel = args.value("classify")
        o.phi = args.flag("phi")
        o.dicomSeg = args.flag("dicom-seg")
        o.verify = args.flag("verify")
        o.jobs = try args.int("jobs", range: 1...256) ?? 1
        o.maxMemory = Runtime.maxMemory
        o.version = version
        if !merge && !dryRun && o.segmentModel == nil && o.classifyModel == nil {
            throw UsageError("give --segment MODEL and/or --classify MODEL", command: Self.spec)
        }
        options = o
        let shards = try args.int("shards", range: 1...100_000)
        if let s = args.value("shard") {
            let parts = s.split(separator: "/").map { Int($0) }
            guard parts.count == 2, let k = parts[0], let n = parts[1], n >= 1, k >= 1, k <= n else {
                throw UsageError("--shard expects K/N with 1 ≤ K ≤ N, got '\(s)'", command: Self.spec)
            }
            shard = (k - 1, n)
        } else {
            do { shard = try BatchPlanner.shardFromEnvironment(ProcessInfo.processInfo.environment, shards: shards) } catch {
                throw UsageError("\(error)", command: Self.spec)
            }
        }
    }

    func run() throws {
        if merge {
            let rs = try BatchIndex.write(study)
            let failed = rs.filter { $0.status != "done" }.count
            print("\(study)/index.html: \(rs.count) case(s), \(failed) failed")
            if failed > 0 { throw BatchFailure(failed: failed, total: rs.count) }
            return
        }
        let plan = try BatchPlanner.discover(study, include: include, exclude: exclude, allSeries: allSeries)
        let cases = shard.map { BatchPlanner.shard(plan.cases, index: $0.index, count: $0.count) } ?? plan.cases
        if dryRun {
            for c in cases { print("\(c.id)\t\(c.display)") }
            for s in plan.skipped { print("skipped\t\(s.path)\t\(s.reason)") }
            print("\(cases.count) case(s)" + (shard.map { " (shard \($0.index + 1)/\($0.count) of \(plan.cases.count))" } ?? "") + ", \(plan.skipped.count) skipped")
            return
        }
        let out = output!
        let studyPath = URL(fileURLWithPath: study).resolvingSymlinksInPath().path
        let outPath = URL(fileURLWithPath: out).resolvingSymlinksInPath().path
        if outPath == studyPath || studyPath.hasPrefix(outPath + "/") {
            // Case folders are replaced whole on a rerun: they must never be the study's own.
            throw FileError.cannotWrite(path: out, reason: "the output folder holds the study \(study); choose one apart from it or inside it")
        }
        let runner = try BatchRunner(plan: plan, outDir: out, options: options)
        let todo = runner.pending(cases)
        if todo.count < cases.count { printErr("medvox batch: \(cases.count - todo.count) case(s) already done, skipped") }
        let progress = Progress("batch", total: todo.count)
        let records = runner.run(cases, pending: todo, progress: progress)
        progress.finish()
        try BatchIndex.write(out, skipped: plan.skipped)
        let withPHI = options.phi ? [] : BatchIndex.casesWithPHI(out)
        if !withPHI.isEmpty {
            printErr("medvox batch: warning: \(withPHI.count) case(s) outside this run still hold patient-identifying data (made with --phi): \(withPHI.joined(separator: ", "))")
        }
        let failed = records.filter { $0.status != "done" }
        for f in failed { printErr("medvox: \(f.id): \(f.error ?? "failed")") }
        print("\(out)/index.html: \(records.count - failed.count) done, \(failed.count) failed, \(cases.count - todo.count) already done")
        if !failed.isEmpty { throw BatchFailure(failed: failed.count, total: records.count) }
    }
}

struct BatchFailure: MedVoxError {
    var failed: Int
    var total: Int
    var description: String { "batch: \(failed) of \(total) case(s) failed" }
}
