import Foundation
import MedVoxCore
import MedVoxTestSupport
import XCTest

@testable import MedVoxIO

/// The DICOM writer and the Segmentation object, checked against our own parser, dcmdump,
/// Debian's dciodvfy (dicom3tools), pydicom and highdicom.
final class DICOMSegTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let fixtures = repo + "/Fixtures/dicom"
    static let oracle = repo + "/Tests/Oracles/dicomseg_oracle.py"

    func run(_ tool: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let r = try Subprocess.run(tool, args)
        return (r.status, r.output)
    }

    func testWriterRoundTripsThroughOurParserAndDcmdump() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for undefined in [false, true] {
            var item = DICOMWriteDataset()
            item["CodeValue"] = .strings(["113076"])
            item["CodeMeaning"] = .strings(["Odd"])  // odd length: space-padded
            var ds = DICOMWriteDataset()
            ds["SOPClassUID"] = .strings(["1.2.3"])  // odd length: NUL-padded
            ds["SOPInstanceUID"] = .strings([DICOMWriter.newUID()])
            ds["PatientName"] = .strings(["Müller^Jo"])
            ds["SpecificCharacterSet"] = .strings(["ISO_IR 192"])
            ds["Rows"] = .uint16([7])
            ds["PixelSpacing"] = .strings([DICOMWriter.ds(0.1 + 0.2), DICOMWriter.ds(1.0 / 3)])
            ds["DimensionIndexPointer"] = .tags([DICOMTag(0x0020, 0x0032)])
            ds["DerivationCodeSequence"] = .items([item, item])
            ds.set(DICOMTag(0x7FE0, 0x0010), .OB, .bytes([1, 2, 3]))
            let path = dir + "/w\(undefined).dcm"
            try DICOMWriter.write(ds, to: path, undefinedLengthSequences: undefined)
            let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
            XCTAssertEqual(bytes.count % 2, 0)
            XCTAssertEqual(Array(bytes[128..<132]), Array("DICM".utf8))
            let f = try DICOMFile(path: path)
            XCTAssertEqual(f.transferSyntax.uid, TransferSyntax.explicitVRLittleEndianUID)
            XCTAssertEqual(f.meta.string(DICOMTag(0x0002, 0x0003)), ds["SOPInstanceUID"].flatMap { if case .strings(let s) = $0 { return s[0] } else { return nil } })
            XCTAssertEqual(f.dataset.string(DICOMTag(0x0008, 0x0016)), "1.2.3")
            XCTAssertEqual(f.dataset.string(DICOMTag(0x0010, 0x0010)), "Müller^Jo")
            XCTAssertEqual(f.dataset.int(DICOMTag(0x0028, 0x0010)), 7)
            XCTAssertEqual(f.dataset.strings(DICOMTag(0x0028, 0x0030)).count, 2)
            XCTAssertTrue(f.dataset.strings(DICOMTag(0x0028, 0x0030)).allSatisfy { $0.count <= 16 })
            let items = f.dataset.items(DICOMTag(0x0008, 0x9215))
            XCTAssertEqual(items.count, 2)
            XCTAssertEqual(items.last?.string(DICOMTag(0x0008, 0x0104)), "Odd")
            XCTAssertEqual(try f.readPixelBytes().prefix(3), [1, 2, 3])
            // Group length equals the meta group's bytes after it.
            let gl = Int(bytes[140]) | Int(bytes[141]) << 8 | Int(bytes[142]) << 16 | Int(bytes[143]) << 24
            XCTAssertEqual(Array(bytes[144 + gl..<144 + gl + 2]), [0x08, 0x00], "group 0008 follows the meta group")
            let dump = try run("dcmdump", ["+E", path])
            XCTAssertEqual(dump.status, 0, dump.output)
            XCTAssertFalse(dump.output.contains("E: "), dump.output)
            XCTAssertTrue(dump.output.contains("(0008,0104) LO [Odd]"), dump.output)
            XCTAssertTrue(dump.output.contains("(0020,9165) AT (0020,0032)"), dump.output)
        }
        XCTAssertEqual(DICOMWriter.decimal([1, 0]), "256")
        XCTAssertEqual(DICOMWriter.decimal([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), "18446744073709551615")
        let uid = DICOMWriter.newUID()
        XCTAssertTrue(uid.hasPrefix("2.25.") && uid.count <= 64 && !uid.dropFirst(5).hasPrefix("0"), uid)
    }

    /// A mask with two labels on some slices (label 2 absent from slice 0, label 3 absent
    /// everywhere), made from the voxel coordinates so every slice differs.
    func mask(for source: DICOMSource) -> Volume {
        var v = Volume(dims: Array(source.dims.prefix(3)), spacing: source.spacing, affine: source.affine, storedType: .uint8)
        let (nx, ny, nz) = (source.dims[0], source.dims[1], source.dims[2])
        for k in 0..<nz {
            for j in 0..<ny {
                for i in 0..<nx {
                    if i < nx / 2 && j > k { v[i, j, k] = 1 }
                    else if k > 0 && i > nx / 2 && (i + j + k) % 3 == 0 { v[i, j, k] = 2 }
                }
            }
        }
        return v
    }

    func checkSeg(_ series: String, phi: Bool) throws {
        let folder = Self.fixtures + "/" + series
        let source = try DICOMSource(path: folder)
        let m = mask(for: source)
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/seg.dcm"
        var o = DICOMSegOptions()
        o.algorithmName = "tiny"
        o.algorithmVersion = "0.1"
        o.phi = phi
        let segments = [DICOMSegSegment(value: 1, name: "Liver", rgb: (255, 0, 0)), DICOMSegSegment(value: 2, name: "Spleen <b>", rgb: (0, 0, 255)),
                        DICOMSegSegment(value: 3, name: "Absent", rgb: (0, 255, 0))]
        try DICOMSeg.write(mask: m, source: source, segments: segments, options: o, to: path)

        // dciodvfy: verified as a Segmentation, no errors.
        XCTAssertEqual(try Dciodvfy.errors(path, iod: "Segmentation"), [], series)

        // pydicom + highdicom: segments land on the right source slices with our mask's pixels.
        let text = try Oracle.python(try String(contentsOfFile: Self.oracle, encoding: .utf8), [path, folder])
        let r = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let segs = r["segments"] as! [[String: Any]]
        XCTAssertEqual(segs.map { $0["label"] as! String }, ["Liver", "Spleen <b>"])
        XCTAssertEqual(segs.map { $0["algorithm"] as! String }, ["tiny", "tiny"])
        XCTAssertEqual(r["position_mismatch"] as! [Int], [])
        XCTAssertEqual(r["study_matches"] as? Bool, true)
        XCTAssertEqual(r["frame_of_reference_matches"] as? Bool, true)
        XCTAssertEqual(r["referenced_series"] as! [String], [source.series.seriesInstanceUID])
        let patient = r["patient"] as! [String]
        XCTAssertEqual(patient, phi ? r["source_patient"] as! [String] : ["", ""])
        let pixels = r["pixels"] as! [String: [String: [Int]]]
        let (nx, ny, nz) = (source.dims[0], source.dims[1], source.dims[2])
        var frames = 0
        for k in 0..<nz {
            let slice = source.geometry.slices[0][k]
            let uid = series == "enhanced" ? "\(slice.sopInstanceUID!)#\(slice.frame + 1)" : slice.sopInstanceUID!
            for (n, label) in [1, 2].enumerated() {
                let expected = (0..<(nx * ny)).filter { Int(m.voxels[k * nx * ny + $0]) == label }
                if !expected.isEmpty { frames += 1 }
                let got = pixels[uid]?[String(n + 1)] ?? []
                XCTAssertEqual(got, expected, "\(series) slice \(k) label \(label)")
            }
        }
        XCTAssertEqual(r["frames"] as? Int, frames)
    }

    func testSegmentationOfCTSeriesValidatesAndReadsBack() throws { try checkSeg("ct", phi: false) }
    func testSegmentationOfObliqueSeriesValidatesAndReadsBack() throws { try checkSeg("oblique", phi: true) }
    /// Enhanced MR with its frames stored in reverse spatial order: frames referenced by number.
    func testSegmentationOfEnhancedMultiFrameValidatesAndReadsBack() throws { try checkSeg("enhanced", phi: false) }

    /// An empty mask still gives a valid object (first segment, one empty frame); enhanced and
    /// classic multi-frame sources validate too (their frames referenced by position, and by
    /// ReferencedFrameNumber for the enhanced, multi-frame SOP class).
    func testEmptyMaskAndMultiFrameSourcesValidate() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for series in ["ct", "enhanced", "multiframe"] {
            let source = try DICOMSource(path: Self.fixtures + "/" + series)
            var m = mask(for: source)
            if series == "ct" { m.voxels = [Float](repeating: 0, count: m.count) }
            let path = "\(dir)/\(series).dcm"
            try DICOMSeg.write(mask: m, source: source, segments: [DICOMSegSegment(value: 1, name: "a", rgb: (9, 9, 9))], to: path)
            XCTAssertEqual(try Dciodvfy.errors(path, iod: "Segmentation"), [], series)
            let f = try DICOMFile(path: path)
            let frames = f.dataset.items(DICOMTag(0x5200, 0x9230))
            let expected = series == "ct" ? 1 : (0..<source.dims[2]).filter { k in
                (0..<(source.dims[0] * source.dims[1])).contains { m.voxels[k * source.dims[0] * source.dims[1] + $0] == 1 } }.count
            XCTAssertEqual(frames.count, expected, series)
            XCTAssertEqual(try f.readPixelBytes().count, (expected * source.dims[0] * source.dims[1] + 15) / 16 * 2, series)
            let refFrame = frames.first?.items(DICOMTag(0x0008, 0x9124)).first?.items(DICOMTag(0x0008, 0x2112)).first?.string(DICOMTag(0x0008, 0x1160))
            XCTAssertEqual(refFrame != nil, series == "enhanced", series)
        }
    }

    func testRefusesAMaskOnAnotherGrid() throws {
        let source = try DICOMSource(path: Self.fixtures + "/ct")
        var m = mask(for: source)
        m = Volume(dims: [2, 2, 2], spacing: [1, 1, 1], affine: m.affine, voxels: [Float](repeating: 1, count: 8), storedType: .uint8)
        XCTAssertThrowsError(try DICOMSeg.make(mask: m, source: source, segments: [DICOMSegSegment(value: 1, name: "a", rgb: (1, 2, 3))])) {
            XCTAssertTrue("\($0)".contains("differs from the series grid"), "\($0)")
        }
    }

    func testCIELabOfWhiteAndRed() {
        XCTAssertEqual(DICOMSeg.cieLab((255, 255, 255)), [65535, 32896, 32896])
        let red = DICOMSeg.cieLab((255, 0, 0))  // L* 53.24, a* 80.09, b* 67.20
        XCTAssertEqual(Double(red[0]) / 65535 * 100, 53.24, accuracy: 0.05)
        XCTAssertEqual(Double(red[1]) / 65535 * 255 - 128, 80.09, accuracy: 0.1)
        XCTAssertEqual(Double(red[2]) / 65535 * 255 - 128, 67.20, accuracy: 0.1)
    }
}
