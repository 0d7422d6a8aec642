import Foundation
import MedVoxCore
import XCTest

@testable import MedVoxIO

/// The encapsulated-pixel path end to end (fragments, offset tables, multi-frame → decoder →
/// masking, sign extension, rescale, colour planes) on the codec fixtures made by dcmtk and GDCM
/// (Fixtures/dicom/codecs, manifest.json), against those toolkits' own decodes (*.f<i>.raw).
final class DICOMEncapsulatedTests: XCTestCase {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/Fixtures/dicom/codecs"

    func testEveryRegisteredCodecThroughTheReader() throws {
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.dir + "/manifest.json"))) as! [String: Any]
        let cases = manifest["cases"] as! [[String: Any]]
        var checked = 0
        for c in cases {
            let name = c["name"] as! String
            let uid = c["transferSyntaxUID"] as! String
            guard PixelDecoders.decoder(for: uid) != nil else { continue }
            let decodedPI = c["decodedPhotometricInterpretation"] as! String
            let f = try DICOMFile(path: Self.dir + "/\(name).dcm")
            XCTAssertTrue(f.transferSyntax.isEncapsulated, name)
            let info = try f.pixelInfo()
            let scaling = try f.slices(fileIndex: 0)[0].scaling
            for frame in 0..<(c["frames"] as! Int) {
                let got = try f.frameValues(frame)
                let raw = Array(try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/\(name).f\(frame).raw")))
                let bps = max(1, info.bitsAllocated / 8)
                let n = info.rows * info.columns
                var want = [Float](repeating: 0, count: n * info.channels)
                for p in 0..<n {
                    for s in 0..<info.samplesPerPixel {
                        let k = (p * info.samplesPerPixel + s) * bps
                        var v: Int64 = 0
                        for b in 0..<bps { v |= Int64(raw[k + b]) << (8 * b) }
                        if info.isSigned && v & (1 << (info.bitsStored - 1)) != 0 { v -= 1 << info.bitsStored }
                        want[s * n + p] = Float(v) * Float(scaling.slope) + Float(scaling.intercept)
                    }
                }
                if decodedPI.hasPrefix("YBR") { continue }  // the toolkit's decode stays YCbCr; ours is RGB
                XCTAssertEqual(got, want, "\(name) frame \(frame)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 10, "codec fixtures checked")
    }
}
