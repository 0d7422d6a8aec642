import MedVoxCore
import XCTest

@testable import MedVoxTensor

final class TensorTests: XCTestCase {
    func testRowMajorIndexingAndStrides() {
        var t = Tensor(shape: [2, 3, 4])
        t[1, 2, 3] = 5
        XCTAssertEqual(t.storage[1 * 12 + 2 * 4 + 3], 5)
        XCTAssertEqual(t.strides, [12, 4, 1])
    }

    func testVolumeMapsToNCDHWWithoutReordering() {
        var v = Volume(dims: [4, 3, 2])
        v[3, 1, 1] = 7
        let t = Tensor(volume: v)
        XCTAssertEqual(t.shape, [1, 1, 2, 3, 4])
        XCTAssertEqual(t[0, 0, 1, 1, 3], 7)
    }
}
