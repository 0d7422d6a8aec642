import Foundation
import XCTest
@testable import MedVoxIO

/// Decoder-level tests on the fixtures of Fixtures/dicom/codecs (made by make_codec_fixtures.py
/// with dcmtk and GDCM): every decode must equal the same toolkit's reference decode exactly.
final class PixelDecoderTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fixtures/dicom/codecs").standardized

    static func manifest() throws -> CodecCaseManifest {
        try CodecCaseManifest.load(folder: folder.path)
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
    }

    /// Decodes every frame of every case whose transfer syntax `decoder` claims; returns the case count.
    @discardableResult
    func checkFixtures(_ decoder: PixelDecoder.Type, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        var checked = 0
        for c in try Self.manifest().cases where decoder.transferSyntaxUIDs.contains(c.transferSyntaxUID) {
            XCTAssert(PixelDecoders.decoder(for: c.transferSyntaxUID) == decoder, "\(c.name): registry", file: file, line: line)
            for f in 0..<c.frames {
                let compressed = try Self.bytes("\(c.name).f\(f).bin")
                let reference = try Self.bytes("\(c.name).f\(f).raw")
                let decoded: DecodedFrame
                do {
                    decoded = try decoder.decode(compressed, info: c.frameInfo)
                } catch {
                    XCTFail("\(c.name) frame \(f): \(error)", file: file, line: line)
                    continue
                }
                XCTAssertEqual(decoded.photometricInterpretation, c.decodedPhotometricInterpretation,
                               "\(c.name): photometric interpretation", file: file, line: line)
                XCTAssertEqual(decoded.bytes.count, reference.count, "\(c.name): size", file: file, line: line)
                if decoded.bytes != reference {
                    let diffs = zip(decoded.bytes, reference).enumerated().filter { $0.element.0 != $0.element.1 }
                    XCTFail("\(c.name) frame \(f): \(diffs.count) bytes differ from `\(c.referenceDecoder)`, first at \(diffs.first.map { "\($0.offset): \($0.element)" } ?? "-")",
                            file: file, line: line)
                }
            }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0, "no fixtures for \(decoder)", file: file, line: line)
        return checked
    }

    /// Corrupt and truncated versions of every fixture of `decoder` must throw or decode, never crash.
    func checkCorruption(_ decoder: PixelDecoder.Type, file: StaticString = #filePath, line: UInt = #line) throws {
        for c in try Self.manifest().cases where decoder.transferSyntaxUIDs.contains(c.transferSyntaxUID) {
            let compressed = try Self.bytes("\(c.name).f0.bin")
            // Truncations: the stream cut at several points must throw.
            for cut in [0, 1, 2, 10, compressed.count / 3, compressed.count / 2, compressed.count * 3 / 4] {
                XCTAssertThrowsError(try decoder.decode(Array(compressed.prefix(cut)), info: c.frameInfo),
                                     "\(c.name) cut at \(cut)", file: file, line: line) { error in
                    XCTAssert(error is PixelDecodingError, "\(c.name): \(error)", file: file, line: line)
                }
            }
            // Byte flips at deterministic positions: may decode to other values, must not crash.
            var seed: UInt64 = 0x9E3779B97F4A7C15
            for _ in 0..<150 {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                var bad = compressed
                let i = Int(seed >> 33) % bad.count
                bad[i] ^= UInt8(truncatingIfNeeded: (seed >> 20) | 1)
                do { _ = try decoder.decode(bad, info: c.frameInfo) } catch {
                    XCTAssert(error is PixelDecodingError, "\(c.name): \(error)", file: file, line: line)
                }
            }
            // A frame description that disagrees with the stream, or is absurd, must throw.
            var wrong = c.frameInfo
            wrong.columns += 1
            XCTAssertThrowsError(try decoder.decode(compressed, info: wrong), "\(c.name) wrong columns", file: file, line: line)
            wrong = c.frameInfo
            wrong.rows = 1 << 20
            XCTAssertThrowsError(try decoder.decode(compressed, info: wrong), "\(c.name) absurd rows", file: file, line: line)
        }
    }

    func testRegistry() {
        XCTAssert(PixelDecoders.decoder(for: "1.2.840.10008.1.2.5\0") == RLEDecoder.self)
        XCTAssertNil(PixelDecoders.decoder(for: "1.2.840.10008.1.2.1"))
        XCTAssertNil(PixelDecoders.decoder(for: "1.2.3.4"))
        var seen = Set<String>()
        for d in PixelDecoders.all {
            for uid in d.transferSyntaxUIDs { XCTAssert(seen.insert(uid).inserted, "\(uid) claimed twice") }
        }
    }

    func testRLE() throws {
        XCTAssertEqual(try checkFixtures(RLEDecoder.self), 5)
        try checkCorruption(RLEDecoder.self)
    }

    /// PackBits by hand (PS3.5 G.3.1): a literal run, a replicate run, and the no-op -128.
    func testRLEHandMade() throws {
        var frame = [UInt8](repeating: 0, count: 64)
        frame[0] = 1
        frame[4] = 64
        frame += [2, 7, 8, 9, 0x80, 0xFE, 5]  // literal 7 8 9, no-op, replicate 5 ×3
        let info = PixelFrameInfo(rows: 2, columns: 3, samplesPerPixel: 1, bitsAllocated: 8, bitsStored: 8,
                                  isSigned: false, planarConfiguration: 0, photometricInterpretation: "MONOCHROME2")
        XCTAssertEqual(try RLEDecoder.decode(frame, info: info).bytes, [7, 8, 9, 5, 5, 5])
        XCTAssertThrowsError(try RLEDecoder.decode(Array(frame.dropLast()), info: info))
    }

    func testJPEGLossless() throws {
        XCTAssertGreaterThanOrEqual(try checkFixtures(JPEGLosslessDecoder.self), 22)
        try checkCorruption(JPEGLosslessDecoder.self)
    }
}

extension PixelDecoderTests {
    func testJPEGBaselineExtended() throws {
        XCTAssertEqual(try checkFixtures(JPEGDecoder.self), 9)
        try checkCorruption(JPEGDecoder.self)
    }
}

extension PixelDecoderTests {
    /// The native sequential-DCT decoder is the plain twin of libjpeg-turbo on 8-bit grey streams.
    func testNativeDCTMatchesLibjpegTurbo() throws {
        var checked = 0
        for c in try Self.manifest().cases where c.name.hasPrefix("jpeg_") && c.info.samplesPerPixel == 1 && c.info.bitsStored == 8
            && !c.name.contains("progressive") && !c.name.contains("spectral") {
            for f in 0..<c.frames {
                let stream = try Self.bytes("\(c.name).f\(f).bin")
                let turbo = try JPEGDecoder.decodeWithLibjpegTurbo(stream, info: c.frameInfo)
                var parser = try JPEGParser(stream, codec: "JPEG")
                let scan = try XCTUnwrap(try parser.nextScan())
                let native = try JPEGSequentialDCT.decode(&parser, firstScan: scan, frame: try parser.checkFrame(against: c.frameInfo), info: c.frameInfo)
                XCTAssertEqual(native.map { UInt8($0) }, turbo.bytes, c.name)
            }
            checked += 1
        }
        XCTAssertEqual(checked, 3)
    }

    /// IJG's range limit by hand (12-bit): in range, clamped high, clamped low, wrapped.
    func testRangeLimit() {
        let l = JPEGSequentialDCT.RangeLimit(precision: 12)
        XCTAssertEqual(l(0), 2048)
        XCTAssertEqual(l(-2048), 0)
        XCTAssertEqual(l(2047), 4095)
        XCTAssertEqual(l(5000), 4095)
        XCTAssertEqual(l(-5000), 0)
        XCTAssertEqual(l(16384 + 10), 2058)  // masked to 14 bits first, as IJG does
    }
}

extension PixelDecoderTests {
    func testJPEGLS() throws {
        XCTAssertEqual(try checkFixtures(JPEGLSDecoder.self), 9)
        try checkCorruption(JPEGLSDecoder.self)
    }
}

extension PixelDecoderTests {
    func testJPEG2000() throws {
        XCTAssertEqual(try checkFixtures(JPEG2000Decoder.self), 8)
        try checkCorruption(JPEG2000Decoder.self)
    }

    /// HTJ2K is refused with a clean error — by transfer syntax and by the code-stream's own HT
    /// signalling, whatever UID labels it — because OpenJPEG 2.5.0 aborts the process on malformed
    /// HT code-blocks (the fuzzer's input in Fixtures/fuzz-regressions).
    func testHTCodeStreamsAreRefusedNotDecoded() throws {
        for uid in JPEG2000Decoder.htj2kTransferSyntaxUIDs { XCTAssertNil(PixelDecoders.decoder(for: uid), uid) }
        var refused = 0
        for c in try Self.manifest().cases where JPEG2000Decoder.htj2kTransferSyntaxUIDs.contains(c.transferSyntaxUID) {
            let frame = try Self.bytes("\(c.name).f0.bin")
            XCTAssertTrue(try JPEG2000Decoder.announcesHTCodeBlocks(frame), c.name)
            XCTAssertThrowsError(try JPEG2000Decoder.decode(frame, info: c.frameInfo)) { e in
                guard case PixelDecodingError.unsupported = e else { return XCTFail("\(c.name): \(e)") }
            }
            refused += 1
        }
        XCTAssertEqual(refused, 4)
        // Part 1 code-streams are not mistaken for HT ones.
        for c in try Self.manifest().cases where JPEG2000Decoder.transferSyntaxUIDs.contains(c.transferSyntaxUID) {
            XCTAssertFalse(try JPEG2000Decoder.announcesHTCodeBlocks(try Self.bytes("\(c.name).f0.bin")), c.name)
        }
        // The fuzzer's crashing frame (after its 4 descriptor bytes), even labelled as plain JPEG 2000.
        let crash = [UInt8](try Data(contentsOf: Self.folder.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fuzz-regressions/jpeg2000-htj2k-mel_init-assert.bin")))
        let info = PixelFrameInfo(rows: 64, columns: 64, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 16,
                                  isSigned: false, planarConfiguration: 0, photometricInterpretation: "MONOCHROME2")
        XCTAssertThrowsError(try JPEG2000Decoder.decode(Array(crash.dropFirst(4)), info: info))
    }

    /// A 191-byte code-stream whose SIZ claims a 2-billion-pixel-wide image made OpenJPEG allocate
    /// over 1 GB (fuzzer); the SIZ is now checked against the data set's rows and columns first.
    func testSIZMustMatchTheImagePixelModule() throws {
        let bin = [UInt8](try Data(contentsOf: Self.folder.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fuzz-regressions/jpeg2000-siz-huge-width.bin")))
        let info = PixelFrameInfo(rows: Int(bin[0]) + 1, columns: Int(bin[1]) + 1, samplesPerPixel: 1, bitsAllocated: 16,
                                  bitsStored: 16, isSigned: false, planarConfiguration: 0, photometricInterpretation: "MONOCHROME2")
        XCTAssertThrowsError(try JPEG2000Decoder.decode(Array(bin.dropFirst(4)), info: info)) { e in
            guard case PixelDecodingError.mismatch(_, "columns", 17, _) = e else { return XCTFail("\(e)") }
        }
        // A well-formed fixture with the wrong rows is refused the same way.
        let c = try XCTUnwrap(try Self.manifest().cases.first { $0.name == "j2k_lossless_mono16" })
        var wrong = c.frameInfo
        wrong.rows += 1
        XCTAssertThrowsError(try JPEG2000Decoder.decode(try Self.bytes("\(c.name).f0.bin"), info: wrong))
    }
}

extension PixelDecoderTests {
    /// The grey fast path of JPEG Lossless equals the general loop (its plain twin) on every grey fixture.
    func testJPEGLosslessFastPathMatchesGeneral() throws {
        var checked = 0
        for c in try Self.manifest().cases where JPEGLosslessDecoder.transferSyntaxUIDs.contains(c.transferSyntaxUID) && c.info.samplesPerPixel == 1 {
            for f in 0..<c.frames {
                let stream = try Self.bytes("\(c.name).f\(f).bin")
                var results: [[UInt16]] = []
                for fast in [true, false] {
                    var parser = try JPEGParser(stream, codec: "JPEG Lossless")
                    let scan = try XCTUnwrap(try parser.nextScan())
                    results.append(try JPEGLosslessDecoder.decodeSamples(&parser, firstScan: scan,
                        frame: try parser.checkFrame(against: c.frameInfo), info: c.frameInfo, fastPath: fast))
                }
                XCTAssertEqual(results[0], results[1], c.name)
            }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 15)
    }
}

extension PixelDecoderTests {
    /// The native decoders, cut at every byte up to the last 8, must throw a PixelDecodingError
    /// (the last bytes may hold only padding bits, EOI or the even-length pad, so they may decode).
    func testNativeDecodersRejectEveryTruncation() throws {
        let cases = ["rle_mono16", "rle_rgb8", "jpll_sv1_mono16", "jpll57_sv6_rgb8", "jpll_restart_mono16_p1",
                     "jpeg_extended_mono12"]
        let manifest = try Self.manifest()
        for name in cases {
            let c = try XCTUnwrap(manifest.cases.first { $0.name == name })
            let decoder = try XCTUnwrap(PixelDecoders.decoder(for: c.transferSyntaxUID))
            let stream = try Self.bytes("\(name).f0.bin")
            for cut in 0..<(stream.count - 8) {
                XCTAssertThrowsError(try decoder.decode(Array(stream.prefix(cut)), info: c.frameInfo), "\(name) cut at \(cut)") {
                    XCTAssert($0 is PixelDecodingError, "\(name): \($0)")
                }
            }
        }
    }
}
