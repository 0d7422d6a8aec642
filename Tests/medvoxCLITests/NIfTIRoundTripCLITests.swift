import Foundation
import MedVoxTestSupport
import XCTest

/// `medvox convert IN.nii OUT.nii.gz` keeps every stored value exactly, for every datatype and
/// both byte orders — including int32/int64/uint32/uint64/float64 values beyond Float32 — as
/// nibabel reads them back.
final class NIfTIRoundTripCLITests: XCTestCase {
    func testConvertKeepsStoredValuesOfEveryDatatypeExactly() throws {
        let dir = try CLITests.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var pairs: [String] = []
        for t in ["uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"] {
            for order in ["le", "be"] {
                let input = "\(CLITests.fixtures)/nifti/dtype_\(t)_\(order).nii"
                let output = "\(dir)/\(t)_\(order).nii.gz"
                let r = try CLITests.medvox(["convert", input, output])
                XCTAssertEqual(r.status, 0, "\(t) \(order): \(r.stderr)")
                pairs += [input, output]
            }
        }
        let script = """
            import sys, numpy as np, nibabel as nib
            a = sys.argv[1:]
            bad = []
            for src, dst in zip(a[0::2], a[1::2]):
                x, y = nib.load(src), nib.load(dst)
                same = (x.get_data_dtype().newbyteorder('=') == y.get_data_dtype().newbyteorder('=')
                        and np.array_equal(np.asarray(x.dataobj.get_unscaled()), np.asarray(y.dataobj.get_unscaled()))
                        and np.allclose(x.affine, y.affine, atol=1e-6)
                        and x.dataobj.slope == y.dataobj.slope and x.dataobj.inter == y.dataobj.inter)
                if not same: bad.append(src)
            print("bad:", " ".join(bad))
            """
        let r = try Python.process(["-c", script] + pairs)
        let text = r.output
        XCTAssertEqual(r.status, 0, text)
        XCTAssertEqual(text.trimmingCharacters(in: .whitespacesAndNewlines), "bad:", text)
    }
}
