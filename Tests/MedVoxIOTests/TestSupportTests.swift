import Foundation
import MedVoxTestSupport
import XCTest

/// The shared comparison helpers and oracle runners fail where they must: a NaN or an infinity is
/// never "close", and a missing or non-verifying oracle tool is an error, never a pass.
final class TestSupportTests: XCTestCase {
    func testClosenessFailsOnNaNAndInfinityInEitherOperand() {
        XCTAssertNil(closenessFailure([1.0, 2.0], [1.0, 2.0 + 1e-7], rtol: 0, atol: 1e-6))
        XCTAssertNotNil(closenessFailure([1.0, 2.0], [1.0, 2.1], rtol: 0, atol: 1e-6))
        for bad in [Double.nan, .infinity, -.infinity] {
            XCTAssertNotNil(closenessFailure([1, bad], [1, 2], rtol: 1e-5, atol: 1e-6), "\(bad) actual")
            XCTAssertNotNil(closenessFailure([1, 2], [1, bad], rtol: 1e-5, atol: 1e-6), "\(bad) expected")
            // Same value on both sides: a failure unless the test says it expects one there.
            XCTAssertNotNil(closenessFailure([bad], [bad], rtol: 1e-5, atol: 1e-6), "\(bad) both")
            XCTAssertNil(closenessFailure([bad], [bad], rtol: 1e-5, atol: 1e-6, matchingNonFinite: true), "\(bad) both, expected")
            // A large rtol does not swallow an infinite reference (∞ − ∞ is NaN).
            XCTAssertNotNil(closenessFailure([1], [bad], rtol: 1, atol: 1, matchingNonFinite: true), "\(bad) vs finite")
        }
        XCTAssertNotNil(closenessFailure([Double.infinity], [-Double.infinity], rtol: 1, atol: 1, matchingNonFinite: true))
        XCTAssertNotNil(closenessFailure([Double.nan], [Double.infinity], rtol: 1, atol: 1, matchingNonFinite: true))
        // Float results against Double references, as the transform oracles compare them.
        XCTAssertNotNil(closenessFailure([Float(1), .nan, 3], [1.0, 2.0, 3.0], rtol: 0, atol: 10))
        XCTAssertNil(closenessFailure([Float(1), 2, 3], [1.0, 2.0, 3.0], rtol: 0, atol: 0))
        // A NaN tolerance accepts nothing.
        XCTAssertNotNil(closenessFailure([1.0], [1.0], rtol: 0, atol: .nan))
        XCTAssertNotNil(closenessFailure([1.0], [1.0, 2.0], rtol: 0, atol: 1), "counts differ")
    }

    func testMaxAbsErrorIsInfiniteOnNaNAndInfinity() {
        XCTAssertEqual(maxAbsError([1.0, 2.0, 3.0], [1.5, 2.0, 2.0]), 1)
        XCTAssertEqual(maxAbsError([Float](), [Double]()), 0)
        for bad in [Float.nan, .infinity, -.infinity] {
            // The bad element after the first: Array.max() would have skipped a NaN there.
            XCTAssertEqual(maxAbsError([1, 2, bad], [Float](repeating: 1, count: 3)), .infinity, "\(bad)")
            XCTAssertEqual(maxAbsError([Float](repeating: 1, count: 3), [1, bad, 2]), .infinity, "\(bad)")
            XCTAssertEqual(maxAbsError([bad], [bad]), .infinity, "\(bad) both")
        }
        XCTAssertEqual(maxAbsError([1.0], [1.0, 2.0]), .infinity, "counts differ")
    }

    func testMissingToolIsAnErrorNamingItAndSetup() {
        XCTAssertThrowsError(try Subprocess.run("medvox-no-such-oracle", ["--version"])) { e in
            XCTAssertTrue(e is MissingTool, "\(e)")
            XCTAssertTrue("\(e)".contains("medvox-no-such-oracle") && "\(e)".contains("Tools/setup.sh"), "\(e)")
        }
        XCTAssertThrowsError(try Subprocess.run("/usr/bin/medvox-no-such-oracle")) { XCTAssertTrue($0 is MissingTool, "\($0)") }
        XCTAssertNoThrow(try Subprocess.run("true"))
    }

    /// dciodvfy's verdict counts only when it verified the file as the expected IOD: a missing
    /// file (dciodvfy aborts, printing no "Error" line) or another IOD is an error, not a pass.
    func testDciodvfyMustVerifyTheExpectedIOD() throws {
        let ct = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/Fixtures/dicom/ct/IM0001.dcm"
        XCTAssertThrowsError(try Dciodvfy.errors("/nonexistent/seg.dcm", iod: "Segmentation")) {
            XCTAssertTrue($0 is Dciodvfy.DidNotVerify, "\($0)")
        }
        XCTAssertThrowsError(try Dciodvfy.errors(ct, iod: "Segmentation")) { XCTAssertTrue($0 is Dciodvfy.DidNotVerify, "\($0)") }
        // The CT fixture verifies as a CT image, with the errors of its deliberately sparse header.
        XCTAssertFalse(try Dciodvfy.errors(ct, iod: "CTImage").isEmpty)
    }
}
