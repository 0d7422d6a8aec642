import Foundation
import MedVoxCore

/// A folder of compressed frames with their descriptions: `manifest.json` plus `<case>.f<i>.bin`
/// (and, for the test fixtures, `<case>.f<i>.raw` reference decodes). Written by
/// Fixtures/dicom/codecs/make_codec_fixtures.py and Tools/bench/codecs_vs_dcmtk.py.
public struct CodecCaseManifest: Decodable, Sendable {
    public struct Info: Decodable, Sendable {
        public var rows, columns, samplesPerPixel, bitsAllocated, bitsStored, planarConfiguration: Int
        public var isSigned: Bool
        public var photometricInterpretation: String
    }
    public struct Case: Decodable, Sendable {
        public var name: String, transferSyntaxUID: String, frames: Int, lossless: Bool
        public var encoder: String, referenceDecoder: String
        public var info: Info
        public var decodedPhotometricInterpretation: String
        public var frameInfo: PixelFrameInfo {
            PixelFrameInfo(rows: info.rows, columns: info.columns, samplesPerPixel: info.samplesPerPixel,
                           bitsAllocated: info.bitsAllocated, bitsStored: info.bitsStored, isSigned: info.isSigned,
                           planarConfiguration: info.planarConfiguration,
                           photometricInterpretation: info.photometricInterpretation)
        }
    }
    public var cases: [Case]

    public static func load(folder: String) throws -> CodecCaseManifest {
        let path = (folder as NSString).appendingPathComponent("manifest.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError.cannotRead(path: path, reason: "no such file")
        }
        do {
            return try JSONDecoder().decode(CodecCaseManifest.self, from: data)
        } catch {
            throw FileError.cannotRead(path: path, reason: "not a codec manifest: \(error)")
        }
    }

    public static func frame(folder: String, name: String, index: Int, ext: String = "bin") throws -> [UInt8] {
        let path = (folder as NSString).appendingPathComponent("\(name).f\(index).\(ext)")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError.cannotRead(path: path, reason: "no such file")
        }
        return [UInt8](data)
    }
}

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
