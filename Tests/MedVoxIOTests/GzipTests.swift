import Foundation
import MedVoxCore
import XCTest

@testable import MedVoxIO

final class GzipTests: XCTestCase {
    /// Bytes that compress somewhat (a ramp with noise), deterministic.
    func sample(_ n: Int) -> [UInt8] {
        var x: UInt32 = 12345
        return (0..<n).map { i in
            x = x &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: i / 7) &+ UInt8(truncatingIfNeeded: x >> 29)
        }
    }

    /// Runs `body` with libdeflate (the fast path) and with zlib alone (its plain twin).
    func withBothEngines(_ body: () throws -> Void) rethrows {
        defer { Libdeflate.enabled = true }
        for fast in [true, false] {
            Libdeflate.enabled = fast
            try body()
        }
    }

    func testBothEnginesWriteTheSameContent() throws {
        let data = sample(Gzip.defaultBlockSize + 999)
        Libdeflate.enabled = true
        let fast = try Gzip.compress(data, level: 1)
        Libdeflate.enabled = false
        let plain = try Gzip.compress(data, level: 1)
        Libdeflate.enabled = true
        XCTAssertEqual(try Inflate.gzip(fast, maxOutput: data.count), data)
        XCTAssertEqual(try Inflate.gzip(plain, maxOutput: data.count), data)
        XCTAssertEqual(try fast.withUnsafeBytes { try Gzip.decompressIndexed($0, maxOutput: data.count, source: "t") }, data)
    }

    func testParallelMembersRoundTripAndAreIndexed() throws {
        try withBothEngines { try parallelMembersRoundTrip() }
    }

    func parallelMembersRoundTrip() throws {
        for n in [0, 1, 1000, 3 * Gzip.defaultBlockSize + 17] {
            let data = sample(n)
            for threads in [1, 2] {
                let gz = try Gzip.compress(data, level: 1, threads: threads)
                XCTAssertEqual(try Inflate.gzip(gz, maxOutput: n + 1), data, "n=\(n)")
                XCTAssertEqual(try GzipReader(bytes: gz, source: "t").readAll(maxOutput: n + 1), data)
                let par = try gz.withUnsafeBytes {
                    try Gzip.decompressIndexed($0, maxOutput: n + 1, source: "t", threads: threads)
                }
                XCTAssertEqual(par, data)
                XCTAssertEqual(
                    gz.withUnsafeBytes { Gzip.memberIndex($0)?.count },
                    max(1, (n + Gzip.defaultBlockSize - 1) / Gzip.defaultBlockSize))
            }
            // The same output whatever the thread count.
            XCTAssertEqual(try Gzip.compress(data, threads: 1), try Gzip.compress(data, threads: 2))
        }
    }

    func testPiecesCoverTheRequestedRangeInParallelOrSequentially() throws {
        try withBothEngines { try piecesCoverTheRange() }
    }

    func piecesCoverTheRange() throws {
        let data = sample(2 * Gzip.defaultBlockSize + 12345)
        let indexed = try Gzip.compress(data, level: 1, threads: 2)
        let plain = try gzipOneMember(data)
        for gz in [indexed, plain] {
            // (from, count, granule): aligned member boundaries (parallel) and misaligned (sequential).
            for (from, count, granule) in [(0, data.count, 1), (352, data.count - 352, 8), (7, 3_000_000, 3)] {
                var got = [UInt8](repeating: 0, count: count)
                let lock = NSLock()
                try got.withUnsafeMutableBytes { out in
                    try Gzip.forEachPiece(of: gz, from: from, count: count, granule: granule, source: "t") {
                        offset, bytes in
                        lock.lock()
                        XCTAssertTrue(
                            offset % granule == 0 && (bytes.count % granule == 0 || offset + bytes.count == count))
                        lock.unlock()
                        (out.baseAddress! + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                    }
                }
                XCTAssertEqual(got, Array(data[from..<(from + count)]), "from \(from) granule \(granule)")
            }
            XCTAssertThrowsError(
                try Gzip.forEachPiece(of: gz, from: 10, count: data.count, granule: 2, source: "t") { _, _ in }
            ) { e in
                guard case CompressionError.shortStream = e else { return XCTFail("\(e)") }
            }
        }
    }

    /// A single gzip member without MedVox's size field (as gzip(1) or Python write it).
    func gzipOneMember(_ data: [UInt8]) throws -> [UInt8] {
        let dir = try temporaryFolder()
        let raw = try writeRaw(data, dir)
        _ = try Oracle.python(
            "import gzip,sys; open(sys.argv[2],'wb').write(gzip.compress(open(sys.argv[1],'rb').read(), 1))",
            [raw, dir + "/one.gz"])
        return try readWholeFile(dir + "/one.gz")
    }

    func testPythonGzipReadsOurMultiMemberOutput() throws {
        let dir = try temporaryFolder()
        let data = sample(Gzip.defaultBlockSize * 2 + 5)
        let path = dir + "/x.gz"
        try AtomicFileWrite(try Gzip.compress(data), path)
        let digest = try Oracle.python(
            "import gzip,hashlib,sys; print(hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest())", [path])
        let ours = try Oracle.python(
            "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
            [try writeRaw(data, dir)])
        XCTAssertEqual(digest, ours)
    }

    func writeRaw(_ data: [UInt8], _ dir: String) throws -> String {
        let p = dir + "/raw.bin"
        try AtomicFileWrite(data, p)
        return p
    }

    func testReadsPythonMultiMemberAndStopsAtTheCap() throws {
        // Python writes 3 members of 1 MiB of zeros: compressed ~3 KB, a small "bomb".
        let dir = try temporaryFolder()
        let path = dir + "/bomb.gz"
        _ = try Oracle.python(
            "import gzip,sys\nwith open(sys.argv[1],'wb') as f:\n  for i in range(3): f.write(gzip.compress(bytes(1<<20)))",
            [path])
        let all = try GzipReader(path: path).readAll(maxOutput: 3 << 20)
        XCTAssertEqual(all.count, 3 << 20)
        XCTAssertThrowsError(try GzipReader(path: path).readAll(maxOutput: 1 << 20)) { e in
            guard case CompressionError.outputTooLarge = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try Inflate.gzip(try readWholeFile(path), maxOutput: 5000))
    }

    func testRawAndZlibHelpers() throws {
        let data = sample(100_000)
        for level in [0, 1, 6, 9] {
            XCTAssertEqual(try Inflate.raw(try Deflate.raw(data, level: level), maxOutput: data.count), data)
            XCTAssertEqual(try Inflate.zlib(try Deflate.zlib(data, level: level), maxOutput: data.count), data)
        }
        // Python's zlib agrees on raw deflate (wbits -15), the DICOM deflated transfer syntax.
        let dir = try temporaryFolder()
        let p = dir + "/d.raw"
        try AtomicFileWrite(try Deflate.raw(data), p)
        let n = try Oracle.python(
            "import zlib,sys; print(len(zlib.decompress(open(sys.argv[1],'rb').read(), -15)))", [p])
        XCTAssertEqual(n.trimmingCharacters(in: .whitespacesAndNewlines), "100000")
        // Padding after the end of a raw stream is ignored; a cap below the size throws.
        XCTAssertEqual(try Inflate.raw(try Deflate.raw(data) + [0], maxOutput: data.count), data)
        XCTAssertThrowsError(try Inflate.raw(try Deflate.raw(data), maxOutput: 99_999))
    }

    func testTruncatedAndCorruptStreamsThrowTypedErrors() throws {
        try withBothEngines { try truncatedAndCorrupt() }
    }

    func truncatedAndCorrupt() throws {
        let gz = try Gzip.compress(sample(50_000), level: 6, threads: 1)
        XCTAssertThrowsError(try Inflate.gzip(Array(gz.prefix(gz.count / 2)), maxOutput: 1 << 20, source: "cut.gz")) {
            e in
            guard case CompressionError.truncated(let s) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(s, "cut.gz")
        }
        var bad = gz
        for i in 40..<60 { bad[i] ^= 0xA5 }
        XCTAssertThrowsError(try Inflate.gzip(bad, maxOutput: 1 << 20)) { e in
            XCTAssertTrue(e is CompressionError, "\(e)")
        }
        // The indexed fast path checks CRCs too.
        var crcBad = gz
        crcBad[crcBad.count - 6] ^= 1
        XCTAssertThrowsError(
            try crcBad.withUnsafeBytes { try Gzip.decompressIndexed($0, maxOutput: 1 << 20, source: "x") })
        XCTAssertThrowsError(try Inflate.raw([1, 2, 3, 4, 5], maxOutput: 100))
    }
}

func AtomicFileWrite(_ bytes: [UInt8], _ path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}
