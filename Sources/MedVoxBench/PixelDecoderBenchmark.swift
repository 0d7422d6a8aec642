import Foundation
import MedVoxCore
import MedVoxIO

/// `medvox bench codecs`: decode speed of every case in a codec manifest folder, single-threaded.
public enum PixelDecoderBenchmark {
    public struct Row: Sendable {
        public var name: String
        public var transferSyntaxUID: String
        /// Median over the repeats of the time to decode all frames of the case once, divided by the frame count.
        public var secondsPerFrame: Double
        /// The same median in CPU time of the decoding thread (robust on a loaded machine).
        public var cpuSecondsPerFrame: Double
        public var frames: Int
        public var megapixelsPerSecond: Double
    }

    public static func run(folder: String, repeats: Int) throws -> [Row] {
        let manifest = try CodecCaseManifest.load(folder: folder)
        var rows: [Row] = []
        for c in manifest.cases {
            guard let decoder = PixelDecoders.decoder(for: c.transferSyntaxUID) else { continue }
            let frames = try (0..<c.frames).map { try CodecCaseManifest.frame(folder: folder, name: c.name, index: $0) }
            let info = c.frameInfo
            var times: [Double] = [], cpuTimes: [Double] = []
            for _ in 0..<max(1, repeats) {
                let start = DispatchTime.now().uptimeNanoseconds, cpuStart = threadCPUSeconds()
                for f in frames { _ = try decoder.decode(f, info: info) }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                cpuTimes.append(threadCPUSeconds() - cpuStart)
            }
            times.sort()
            cpuTimes.sort()
            let perFrame = times[times.count / 2] / Double(frames.count)
            rows.append(Row(name: c.name, transferSyntaxUID: c.transferSyntaxUID, secondsPerFrame: perFrame,
                            cpuSecondsPerFrame: cpuTimes[cpuTimes.count / 2] / Double(frames.count),
                            frames: frames.count, megapixelsPerSecond: Double(info.rows * info.columns) / perFrame / 1e6))
        }
        return rows
    }

    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
