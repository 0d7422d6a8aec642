import Foundation
import MedVoxCore
import MedVoxIO

extension BenchSuite {
    /// `medvox bench codecs --dir DIR [--repeat N] [--json]`: single-threaded decode speed of the
    /// compressed frames in DIR (made by Tools/bench/codecs_vs_dcmtk.py, which also times dcmtk/GDCM).
    public static let codecs = BenchSuite(name: "codecs") { args, emit in
        guard let dir = args.value("dir") else {
            emit("codecs  skipped: needs --dir DIR made by Tools/bench/codecs_vs_dcmtk.py")
            return
        }
        let repeats = try args.int("repeat", range: 1...100) ?? 5
        for r in try PixelDecoderBenchmark.run(folder: dir, repeats: repeats) {
            if args.flag("json") {
                emit("{\"suite\": \"codecs\", \"name\": \"\(r.name)\", \"transferSyntax\": \"\(r.transferSyntaxUID)\", \"secondsPerFrame\": \(r.secondsPerFrame), \"cpuSecondsPerFrame\": \(r.cpuSecondsPerFrame), \"frames\": \(r.frames), \"megapixelsPerSecond\": \(r.megapixelsPerSecond)}")
            } else {
                emit("codecs  " + r.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                      + String(format: "%9.3f ms/frame (CPU %.3f ms) %8.1f Mpx/s", r.secondsPerFrame * 1000,
                                       r.cpuSecondsPerFrame * 1000, r.megapixelsPerSecond))
            }
        }
    }
}
