import MedVoxCore
import MedVoxReport
import XCTest

final class SliceRendererTests: XCTestCase {
    /// value = i + 10 j + 100 k on a 3×2×2 grid.
    func ramp(affine: Affine = .identity, spacing: [Double] = [1, 1, 1]) -> Volume {
        var v = Volume(dims: [3, 2, 2], spacing: spacing, affine: affine)
        for k in 0..<2 { for j in 0..<2 { for i in 0..<3 { v[i, j, k] = Float(i + 10 * j + 100 * k) } } }
        return v
    }

    func greys(_ im: RGBImage) -> [[Int]] {
        (0..<im.height).map { y in (0..<im.width).map { x in Int(im[x, y].0) } }
    }

    func renderer(_ v: Volume, radiological: Bool = true, overlay: Volume? = nil, alpha: Float = 0.5) throws
        -> SliceRenderer
    {
        var r = try SliceRenderer(
            volume: v, window: DisplayWindow(low: 0, high: 255), radiological: radiological, overlay: overlay,
            overlayAlpha: alpha)
        r.minimumSize = 1
        return r
    }

    func testPlanesFollowRadiologicalConvention() throws {
        let r = try renderer(ramp())
        // Axial k=0: top row is anterior (j=1); patient's right (i=2) on the left.
        XCTAssertEqual(greys(r.slice(.axial, index: 0)), [[12, 11, 10], [2, 1, 0]])
        XCTAssertEqual(
            greys(try renderer(ramp(), radiological: false).slice(.axial, index: 0)), [[10, 11, 12], [0, 1, 2]])
        // Coronal j=1: superior (k=1) on top.
        XCTAssertEqual(greys(r.slice(.coronal, index: 1)), [[112, 111, 110], [12, 11, 10]])
        // Sagittal i=0: anterior (j=1) on the left, superior on top.
        XCTAssertEqual(greys(r.slice(.sagittal, index: 0)), [[110, 100], [10, 0]])
    }

    func testAnLASVolumeRendersLikeItsRASTwin() throws {
        // The same anatomy stored with i running right-to-left.
        let ras = ramp()
        var las = Volume(
            dims: [3, 2, 2], affine: Affine(rows: [[-1, 0, 0, 2], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]))
        for k in 0..<2 { for j in 0..<2 { for i in 0..<3 { las[i, j, k] = ras[2 - i, j, k] } } }
        for plane in Plane.allCases {
            XCTAssertEqual(try renderer(las).slice(plane), try renderer(ras).slice(plane), "\(plane)")
        }
    }

    func testAnisotropicVoxelsKeepTheirAspectRatio() throws {
        let r = try renderer(ramp(affine: .scaling([1, 1, 3]), spacing: [1, 1, 3]))
        let c = r.slice(.coronal, index: 0)
        XCTAssertEqual([c.width, c.height], [3, 6])  // 3 mm × 2 slices of 3 mm
        XCTAssertEqual(greys(c).map { $0[0] }, [102, 102, 102, 2, 2, 2])
        var big = try SliceRenderer(volume: ramp())
        big.minimumSize = 256
        XCTAssertEqual(big.slice(.axial).width, 255)  // enlarged by an integer factor (85)
    }

    func testWindowOverlayAndMontage() throws {
        let w = DisplayWindow.automatic((0..<100).map(Float.init))
        XCTAssertEqual(w.low, 0.495, accuracy: 1e-4)
        XCTAssertEqual(w.high, 98.505, accuracy: 1e-4)
        XCTAssertEqual(DisplayWindow(center: 40, width: 400), DisplayWindow(low: -160, high: 240))
        XCTAssertEqual(w.grey(-5), 0)
        XCTAssertEqual(w.grey(1000), 255)
        var labels = ramp().withVoxels([Float](repeating: 0, count: 12), storedType: .uint8)
        labels[2, 1, 0] = 3
        let r = try renderer(ramp(), overlay: labels, alpha: 1)
        let s = r.slice(.axial, index: 0)
        XCTAssertTrue(s[0, 0] == LabelColors.color(3))
        XCTAssertTrue(s[1, 0] == (11, 11, 11))
        XCTAssertEqual(LabelColors.legend([3, 1, 3, 0]).map(\.hex), ["#e6194b", "#0082c8"])
        let m = r.montage(.axial, count: 2)
        XCTAssertEqual([m.width, m.height], [3 * 2 + 2, 2])
        let three = r.threePlane()
        XCTAssertEqual(three.width, 3 + 4 + 3 + 4 + 2)
        // A label map on another grid is refused.
        XCTAssertThrowsError(try SliceRenderer(volume: ramp(), overlay: Volume(dims: [2, 2, 2])))
    }
}
