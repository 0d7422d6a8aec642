import Foundation
import MedVoxCore
import MedVoxTestSupport
import XCTest

@testable import MedVoxIO

/// The DICOM reader against its oracles: dcmdump (tags), pydicom (pixel values), dcm2niix +
/// nibabel (series geometry and voxels in world space). Fixtures: Fixtures/dicom (made by
/// Fixtures/dicom/make_dicom_fixtures.py). A missing oracle fails the test.
final class DICOMTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let fixtures = repo + "/Fixtures/dicom"
    static let oracle = repo + "/Tests/Oracles/dicom_oracle.py"
    func fx(_ p: String) -> String { Self.fixtures + "/" + p }

    // MARK: Tags (oracle: dcmdump)

    func testTagsMatchDcmdump() throws {
        let tags: [DICOMTag] = [.rows, .columns, .pixelSpacing, .imagePositionPatient, .imageOrientationPatient,
                                .seriesDescription, .rescaleIntercept, .bitsStored, .seriesInstanceUID,
                                DICOMTag(0x0029, 0x1010), DICOMTag(0x0029, 0x1011)]
        for file in ["ct/IM0001.dcm", "mr/IM0002.dcm", "bigendian/IM0003.dcm", "deflated/IM0001.dcm", "oblique/IM0001.dcm"] {
            let f = try DICOMFile(path: fx(file))
            for tag in tags {
                let expected = try dcmdumpValue(fx(file), tag)
                guard let expected else {
                    XCTAssertNil(f.dataset[tag], "\(file) \(tag) absent in dcmdump")
                    continue
                }
                XCTAssertEqual(f.dataset.strings(tag).joined(separator: "\\"), expected, "\(file) \(tag)")
            }
        }
    }

    /// The value dcmdump prints for a tag (text between brackets, or the bare numbers).
    func dcmdumpValue(_ path: String, _ tag: DICOMTag) throws -> String? {
        let g = String(format: "%04x,%04x", tag.group, tag.element)
        let out = try run("/usr/bin/dcmdump", ["+U8", "+P", g, "-q", path])
        guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix("(\(g))") }) else { return nil }
        let body = line.dropFirst(15)
        let value = body.components(separatedBy: "#")[0].trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("["), let end = value.lastIndex(of: "]") {
            return String(value[value.index(after: value.startIndex)..<end])
        }
        return value
    }

    func testSequencesPrivateTagsAndUN() throws {
        let f = try DICOMFile(path: fx("ct/IM0001.dcm"))
        let items = f.dataset.items(DICOMTag(0x0008, 0x1140))  // ReferencedImageSequence
        XCTAssertEqual(items.count, 1)
        let region = items[0].items(DICOMTag(0x0008, 0x2218))  // AnatomicRegionSequence
        XCTAssertEqual(region.first?.string(DICOMTag(0x0008, 0x0104)), "Head")
        XCTAssertEqual(f.dataset.string(DICOMTag(0x0029, 0x0010)), "MEDVOX TEST")  // private creator
        XCTAssertEqual(f.dataset.string(DICOMTag(0x0029, 0x1010)), "private text")
        XCTAssertEqual(f.dataset[DICOMTag(0x0029, 0x1012)]?.bytes, [1, 2, 3, 4])
        XCTAssertEqual(f.dataset[DICOMTag(0x0018, 0x1316)]?.vr, .UN)
        XCTAssertEqual(f.dataset.double(DICOMTag(0x0018, 0x1316)), 42)  // UN read with the dictionary VR (DS)
        // UN with undefined length: a sequence in implicit VR little endian (PS3.5 6.2.2).
        let un = f.dataset.items(DICOMTag(0x0029, 0x1020))
        XCTAssertEqual(un.count, 1)
        XCTAssertEqual(un.first?.string(DICOMTag(0x0008, 0x0100)), "ABCD")
        XCTAssertEqual(un.first?.string(DICOMTag(0x0008, 0x0104)), "inner")
        XCTAssertEqual(DICOMDictionary.tag("PixelSpacing"), .pixelSpacing)
        XCTAssertEqual(DICOMTag.rows.keyword, "Rows")
        XCTAssertNil(f.dataset[.pixelData], "pixel data is located, not loaded")
        XCTAssertNotNil(f.pixelData)
    }

    func testCharacterSets() throws {
        XCTAssertEqual(try DICOMFile(path: fx("mr/IM0001.dcm")).dataset.string(.seriesDescription), "T1 sagittal é")
        XCTAssertEqual(try DICOMFile(path: fx("mr/IM0001.dcm")).dataset.string(.institutionName), "Hôpital Fixture")
        XCTAssertEqual(try DICOMFile(path: fx("oblique/IM0001.dcm")).dataset.string(.seriesDescription), "oblique ü 日本")
        // Unknown character sets decode leniently.
        XCTAssertEqual(DICOMCharacterSet(term: "ISO_IR 999").decode([0x41, 0xE9]), "Aé")
    }

    func testTransferSyntaxesAndRawDataSet() throws {
        XCTAssertEqual(try DICOMFile(path: fx("mr/IM0001.dcm")).transferSyntax.uid, "1.2.840.10008.1.2")
        XCTAssertEqual(try DICOMFile(path: fx("bigendian/IM0001.dcm")).transferSyntax.byteOrder, .big)
        XCTAssertTrue(try DICOMFile(path: fx("deflated/IM0001.dcm")).transferSyntax.isDeflated)
        let raw = try DICOMFile(path: fx("raw/IM0001"))
        XCTAssertFalse(raw.hasPart10Header)
        XCTAssertEqual(raw.transferSyntax.uid, "1.2.840.10008.1.2")
        XCTAssertEqual(try raw.frameValues(0), try DICOMFile(path: fx("mr/IM0001.dcm")).frameValues(0))
        XCTAssertEqual(TransferSyntax.lookup("1.2.840.10008.1.2.4.50")?.name, "JPEG Baseline (Process 1)")
    }

    // MARK: Pixels (oracle: pydicom)

    func testPixelValuesMatchPydicom() throws {
        let files = ["ct/IM0002.dcm", "mr/IM0003.dcm", "bigendian/IM0002.dcm", "deflated/IM0004.dcm", "signed12/IM0002.dcm",
                     "monochrome1/IM0001.dcm", "rgb_planar0/IM0001.dcm", "rgb_planar1/IM0001.dcm", "ybr_full/IM0001.dcm",
                     "multiframe/MF0001.dcm", "enhanced/ENH0001.dcm", "raw/IM0001"]
        for file in files {
            let dir = tempDir()
            _ = try run(try Python.interpreter(), [Self.oracle, "pixels", fx(file), dir])
            let shape = try jsonObject(dir + "/pixels.json")["shape"] as! [Int]
            let expected = try floats(dir + "/pixels.f32")
            let f = try DICOMFile(path: fx(file))
            let frameSize = shape[1] * shape[2] * shape[3]
            let tolerance: Float = file.hasPrefix("ybr") ? 1 : 0  // YCbCr→RGB rounding may differ by 1
            for fr in 0..<shape[0] {
                let got = try f.frameValues(fr)
                XCTAssertEqual(got.count, frameSize, file)
                let want = expected[(fr * frameSize)..<((fr + 1) * frameSize)]
                XCTAssertLessThanOrEqual(maxAbsError(got, Array(want)), Double(tolerance), "\(file) frame \(fr)")
            }
        }
    }

    // MARK: Series (oracle: dcm2niix + nibabel, compared in world space)

    func testSeriesMatchDcm2niixInWorldSpace() throws {
        for folder in ["ct", "mr", "oblique", "bigendian", "deflated", "duplicates", "localizer", "enhanced", "multiframe", "tilted", "mosaic"] {
            let dir = tempDir()
            // dcm2niix cannot read deflated files: its oracle is the same series uncompressed.
            let names = try run(try Python.interpreter(), [Self.oracle, "dcm2niix", fx(folder == "deflated" ? "ct" : folder), dir])
                .split(separator: "\n").map(String.init).filter { !$0.contains("Tilt") }
            let scan = try DICOMScanner.scan(fx(folder))
            let series = scan.series.filter { !$0.slices.isEmpty }
            XCTAssertEqual(series.count, 1, folder)
            guard let s = series.first else { continue }
            let (vol, _) = try s.loadVolume()
            let ras = vol.reoriented(to: .ras)
            // dcm2niix also writes the localizer as its own volume: compare with the one of our shape.
            let matching = try names.filter { try jsonObject(dir + "/\($0).json")["shape"] as! [Int] == ras.dims }
            XCTAssertEqual(matching.count, 1, "\(folder): dcm2niix wrote \(names)")
            if folder == "localizer" { XCTAssertEqual(names.count, 2) }
            guard let name = matching.first else { continue }
            let meta = try jsonObject(dir + "/\(name).json")
            let shape = meta["shape"] as! [Int]
            let affine = (meta["affine"] as! [[Double]]).flatMap { $0 }
            XCTAssertEqual(ras.dims, shape, folder)
            XCTAssertTrue(ras.affine.isClose(to: Affine(elements: affine), tolerance: 1e-3), "\(folder): \(ras.affine) vs \(affine)")
            // dcm2niix ignores per-frame rescale in enhanced files (it stores raw values); there the
            // values are checked against pydicom per frame in testPixelValuesMatchPydicom.
            if folder == "enhanced" { continue }
            let expected = try floats(dir + "/\(name).f32")
            XCTAssertEqual(expected.count, ras.voxels.count, folder)
            XCTAssertLessThanOrEqual(maxAbsError(ras.voxels, expected), 1e-3, folder)
        }
    }

    func testEchoSplitAndTimeSeriesMatchDcm2niix() throws {
        for folder in ["multiecho", "timeseries"] {
            let dir = tempDir()
            let names = try run(try Python.interpreter(), [Self.oracle, "dcm2niix", fx(folder), dir]).split(separator: "\n").map(String.init)
            let series = try DICOMScanner.scan(fx(folder)).series
            XCTAssertEqual(series.count, names.count, "\(folder): \(names)")
            for s in series {
                // dcm2niix names echoes "_e1", "_e2"; MedVox labels the split parts "e1", "e2".
                guard let name = names.first(where: { s.splitLabel.isEmpty || $0.hasSuffix("_" + s.splitLabel) }) else {
                    XCTFail("\(folder): no dcm2niix output for \(s.selector) in \(names)")
                    continue
                }
                let ras = try s.loadVolume().volume.reoriented(to: .ras)
                let meta = try jsonObject(dir + "/\(name).json")
                XCTAssertEqual(ras.dims, meta["shape"] as! [Int], "\(folder) \(name)")
                let affine = Affine(elements: (meta["affine"] as! [[Double]]).flatMap { $0 })
                XCTAssertTrue(ras.affine.isClose(to: affine, tolerance: 1e-3), "\(folder) \(name)")
                let expected = try floats(dir + "/\(name).f32")
                XCTAssertEqual(ras.voxels, expected, "\(folder) \(name)")
            }
        }
        XCTAssertEqual(try DICOMScanner.scan(fx("timeseries")).series[0].geometry().dims, [8, 6, 3, 2])
    }

    func testSiemensMosaicLayoutAndCSA() throws {
        let f = try DICOMFile(path: fx("mosaic/MOS0001.dcm"))
        XCTAssertEqual(f.mosaic, MosaicLayout(count: 6, tilesPerRow: 3, tileRows: 6, tileColumns: 8))
        XCTAssertEqual(f.csaImageHeader?["NumberOfImagesInMosaic"], ["6"])
        XCTAssertEqual(try f.imageInfo().numberOfFrames, 6)
        XCTAssertEqual(try DICOMScanner.scan(fx("mosaic")).series[0].geometry().dims, [8, 6, 6, 2])
        // Corrupt CSA bytes never trap: every prefix and a few flips parse or give nil.
        let csa = f.dataset[DICOMTag(0x0029, 0x1010)]!.bytes
        for n in 0..<csa.count { _ = SiemensCSA.parse(Array(csa[0..<n])) }
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<200 {
            var b = csa
            b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            _ = SiemensCSA.parse(b)
        }
    }

    func testNativeYBR422AndOneBitPixels() throws {
        // YBR_FULL_422: Y1 Y2 Cb Cr per pixel pair (PS3.3 C.7.6.3.1.2); grey pairs decode to grey.
        var info = try DICOMFile(path: fx("ybr_full/IM0001.dcm")).pixelInfo()
        info.rows = 1
        info.columns = 4
        let bytes: [UInt8] = [10, 20, 128, 128, 50, 60, 128, 228]
        var out = [Float](repeating: 0, count: 12)
        out.withUnsafeMutableBufferPointer { o in
            var sink = FloatSink(out: o.baseAddress!, slope: 1, intercept: 0)
            bytes.withUnsafeBytes { NativePixels.decode($0, info: info, photometric: "YBR_FULL_422", planar: 0, order: .little, channelStride: 4, into: &sink) }
        }
        XCTAssertEqual(Array(out[0..<4]), [10, 20, 190, 200])  // R: Y + 1.402 (Cr - 128), clamped
        XCTAssertEqual(Array(out[4..<8]), [10, 20, 0, 0])  // G: Y - 0.714136 (Cr - 128) = 50 - 71.4 → 0
        XCTAssertEqual(Array(out[8..<12]), [10, 20, 50, 60])  // B: Y + 1.772 (Cb - 128)
        // BitsAllocated 1: least significant bit first (PS3.5 8.1.1).
        var one = info
        one.samplesPerPixel = 1
        one.bitsAllocated = 1
        one.bitsStored = 1
        one.highBit = 0
        one.columns = 10
        one.photometricInterpretation = "MONOCHROME2"
        var bits = [Float](repeating: -1, count: 10)
        bits.withUnsafeMutableBufferPointer { o in
            var sink = FloatSink(out: o.baseAddress!, slope: 1, intercept: 0)
            [UInt8]([0b1000_0101, 0b10]).withUnsafeBytes {
                NativePixels.decode($0, info: one, photometric: "MONOCHROME2", planar: 0, order: .little, channelStride: 10, into: &sink)
            }
        }
        XCTAssertEqual(bits, [1, 0, 1, 0, 0, 0, 0, 1, 0, 1])
        // Unsigned 32-bit values above Int32.max, big endian.
        var u32 = one
        u32.bitsAllocated = 32
        u32.bitsStored = 32
        u32.highBit = 31
        u32.columns = 2
        var wide = [Float](repeating: 0, count: 2)
        wide.withUnsafeMutableBufferPointer { o in
            var sink = FloatSink(out: o.baseAddress!, slope: 1, intercept: 0, unsigned32: true)
            [UInt8]([0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x02]).withUnsafeBytes {
                NativePixels.decode($0, info: u32, photometric: "MONOCHROME2", planar: 0, order: .big, channelStride: 2, into: &sink)
            }
        }
        XCTAssertEqual(wide, [4_294_967_040, 258])
    }

    func testTiltDetectionAndCorrection() throws {
        let s = try DICOMScanner.scan(fx("tilted")).series[0]
        let g = try s.geometry()
        XCTAssertEqual(g.tiltDegrees, 15, accuracy: 0.01)
        XCTAssertTrue(g.warnings.contains { $0.contains("gantry tilt") })
        // Uncorrected: the affine's slice column is the true (sheared) step, so voxels stay in place.
        XCTAssertEqual(g.affine[1, 2], -3 * tan(15 * Double.pi / 180), accuracy: 1e-4)
        let (v, cg) = try s.loadVolume(DICOMAssemblyOptions(correctTilt: true))
        XCTAssertTrue(cg.tiltCorrected)
        XCTAssertEqual(cg.affine[1, 2], 0, accuracy: 1e-9)
        XCTAssertEqual(cg.affine[2, 2], 3, accuracy: 1e-4)
        XCTAssertEqual(cg.dims, [16, 17, 5])  // widened by ⌈4 × 1.005⌉ rows to keep every voxel, as dcm2niix's
        XCTAssertEqual(cg.decodeDims, [16, 12, 5])
        // Slice 0 is unshifted; compare a corrected voxel against the world position it came from.
        let (raw, _) = try s.loadVolume()
        XCTAssertEqual(v[5, 3, 0], raw[5, 3, 0])
        // Corrected voxel (i, j, k) is the world point o + i·Δc·r + j·Δr·c + k·Δz·n; slice k of the
        // tilted stack starts k·3·tan(15°) mm further along the column direction, so that point is
        // row j − k·shift of slice k.
        let shift = 3 * tan(15 * Double.pi / 180) / 0.8  // rows per slice
        for k in 1..<5 {
            for j in 0..<12 {
                let y = Double(j) - shift * Double(k)
                let j0 = Int(y.rounded(.down)), fj = Float(y - Double(j0))
                guard j0 >= 0 && j0 + 1 < 12 else { continue }
                let want = raw[5, j0, k] * (1 - fj) + raw[5, j0 + 1, k] * fj
                XCTAssertEqual(v[5, j, k], want, accuracy: 1e-3, "j \(j) k \(k)")
            }
        }
    }

    func testGapsIrregularSpacingDuplicatesLocalizers() throws {
        let gapped = try DICOMScanner.scan(fx("gapped")).series[0]
        XCTAssertThrowsError(try gapped.geometry()) { e in
            XCTAssertTrue("\(e)".contains("1 missing between"), "\(e)")
            XCTAssertTrue("\(e)".contains("--allow-irregular"), "\(e)")
        }
        let g = try gapped.geometry(DICOMAssemblyOptions(allowIrregular: true))
        XCTAssertEqual(g.dims, [16, 12, 5])
        XCTAssertTrue(g.warnings.contains { $0.contains("irregular") })
        XCTAssertThrowsError(try DICOMScanner.scan(fx("irregular")).series[0].geometry()) { e in
            XCTAssertTrue("\(e)".contains("step 3.000 mm"), "\(e)")
        }
        let dup = try DICOMScanner.scan(fx("duplicates")).series[0].geometry()
        XCTAssertEqual(dup.dims, [16, 12, 4])
        XCTAssertTrue(dup.warnings.contains { $0.contains("duplicate") })
        let loc = try DICOMScanner.scan(fx("localizer"))
        XCTAssertEqual(loc.series.count, 1)
        XCTAssertEqual(loc.series[0].excluded.map { ($0.path as NSString).lastPathComponent }, ["SCOUT01.dcm"])
        XCTAssertEqual(loc.skipped.map { ($0.path as NSString).lastPathComponent }, ["README.txt"])
        XCTAssertEqual(try loc.series[0].geometry().dims, [16, 12, 4])
    }

    func testNonOrthonormalCosinesAreOrthonormalised() throws {
        var s = try DICOMScanner.scan(fx("ct")).series[0]
        for i in s.slices.indices { s.slices[i].orientation = [1, 0.002, 0, 0.001, 0.9999, 0] }
        let g = try s.geometry()
        XCTAssertTrue(g.warnings.contains { $0.contains("orthonormalised") })
        let a = g.affine
        let c0 = [a[0, 0], a[1, 0], a[2, 0]].map { $0 / 0.6 }, c1 = [a[0, 1], a[1, 1], a[2, 1]].map { $0 / 0.8 }
        XCTAssertEqual(dot(c0, c1), 0, accuracy: 1e-12)
        XCTAssertEqual(norm(c0), 1, accuracy: 1e-12)
    }

    func testSafeNames() {
        XCTAssertEqual(DICOMSeries.safeName("3_../../etc/passwd"), "3_.._.._etc_passwd")
        XCTAssertEqual(DICOMSeries.safeName("../x"), "x")
        XCTAssertEqual(DICOMSeries.safeName("///"), "series")
        XCTAssertEqual(DICOMSeries.safeName(String(repeating: "a", count: 500)).count, 80)
        XCTAssertEqual(DICOMSeries.safeName("T1 sagittal é"), "T1_sagittal")
    }

    // MARK: Bad input

    func testBadInputGivesOneLineErrorNamingTheFile() throws {
        let cases: [(String, String)] = [
            ("truncated_pixels.dcm", "holds"), ("truncated_header.dcm", "truncated"), ("length_past_end.dcm", "declares"),
            ("odd_length.dcm", "odd pixel data length"), ("absurd_size.dcm", "limit"), ("deep_nesting.dcm", "nested deeper"),
            ("no_pixels.dcm", "no pixel data"), ("unsupported_ts.dcm", "1.2.840.10008.1.2.4.100 (MPEG2"),
            ("not_dicom.dcm", "not a DICOM file"),
        ]
        for (file, needle) in cases {
            let path = fx("bad/" + file)
            do {
                let scan = try DICOMScanner.scan(path)
                _ = try scan.series[0].loadVolume()
                XCTFail("\(file): no error")
            } catch let e as MedVoxError {
                let msg = e.description
                XCTAssertTrue(msg.contains(path), "\(file): \(msg)")
                XCTAssertTrue(msg.contains(needle), "\(file): \(msg)")
                XCTAssertFalse(msg.contains("\n"), "\(file): \(msg)")
            }
        }
    }

    /// Every truncation and a sweep of corrupted header bytes of a real file never trap. A file cut
    /// short is always refused; every refusal is a MedVoxError on one line naming the file (the
    /// bad-input contract); a corrupted header that still decodes gives finite values, Rows ×
    /// Columns × SamplesPerPixel of them as its own header declares.
    func testFuzzedHeadersNeverCrash() throws {
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: fx("ct/IM0001.dcm"))))
        XCTAssertEqual(try DICOMFile(bytes: good, path: "whole").frameValues(0), try DICOMFile(path: fx("ct/IM0001.dcm")).frameValues(0))
        /// The error message when `bytes` (named `name`) is refused; nil when it decodes.
        func refusal(_ bytes: [UInt8], _ name: String) -> String? {
            do {
                let f = try DICOMFile(bytes: bytes, path: name)
                let values = try f.frameValues(0)
                let declared = (f.dataset.int(.rows) ?? 0) * (f.dataset.int(.columns) ?? 0) * (f.dataset.int(DICOMTag(0x0028, 0x0002)) ?? 1)
                XCTAssertEqual(values.count, declared, name)
                XCTAssertTrue(values.allSatisfy(\.isFinite), name)
                return nil
            } catch let e as MedVoxError {
                XCTAssertTrue(e.description.contains(name), "\(name): \(e)")
                XCTAssertFalse(e.description.contains("\n"), "\(name): \(e)")
                return e.description
            } catch {
                XCTFail("\(name): not a MedVoxError: \(error)")
                return "\(error)"
            }
        }
        for cut in stride(from: 0, to: good.count, by: 7) {
            XCTAssertNotNil(refusal(Array(good[0..<cut]), "cut\(cut)"), "a file cut to \(cut) of \(good.count) bytes decoded")
        }
        var rng = SeededGenerator(seed: 7)
        var refused = 0, decoded = 0
        for n in 0..<300 {
            var b = good
            for _ in 0..<4 { b[Int.random(in: 132..<min(b.count, 1500), using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            if refusal(b, "fuzz\(n)") == nil { decoded += 1 } else { refused += 1 }
        }
        // The sweep reaches both outcomes (a corpus that only ever failed would check nothing above).
        XCTAssertGreaterThan(refused, 0)
        XCTAssertGreaterThan(decoded, 0)
    }

    // MARK: helpers

    func tempDir() -> String {
        let d = NSTemporaryDirectory() + "medvox-dicom-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    func run(_ exe: String, _ args: [String]) throws -> String {
        let r = try Subprocess.run(exe, args)
        guard r.status == 0 else {
            throw FileError.cannotRead(path: exe, reason: "\(args.joined(separator: " ")) failed: \(r.stderr)")
        }
        return r.stdout
    }

    func jsonObject(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    func floats(_ path: String) throws -> [Float] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        return d.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
