import MedVoxReport

/// `medvox report CASE_DIR`: rebuilds a case's report.html (and its figures) from the saved
/// report.json and outputs.
struct ReportCommand: Command {
    static let spec = CommandSpec(
        """
        report: rebuild a case report (report.html and figures) from its saved report.json and outputs
          CASE_DIR                  a folder written by --report

        Example:
          medvox segment t1.nii.gz -o out/mask.nii.gz --report out
          medvox report out
        """)
    let dir: String
    init(_ args: ParsedArguments) throws { dir = args.positionals[0] }
    func run() throws {
        try ReportWriter.rebuild(dir)
        print("\(dir)/\(ReportWriter.htmlName)")
    }
}
