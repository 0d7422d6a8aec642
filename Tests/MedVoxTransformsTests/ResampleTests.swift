import Foundation
import MedVoxCore
import MedVoxTestSupport
import XCTest

@testable import MedVoxTransforms

final class ResampleTests: XCTestCase {
    /// Separable path (`resampled(toShape:)`) vs `scipy.ndimage.zoom(grid_mode=True)`.
    func testZoomMatchesScipy() {
        let v = testVolume([12, 10, 9])
        let shape = [17, 13, 7]
        for (interp, order, mode) in [(Interpolation.linear, 1, "nearest"), (.bspline, 3, "mirror")] {
            let r = try! v.resampled(toShape: shape, interpolation: interp, antiAlias: false)
            XCTAssertEqual(r.shape3, shape)
            let script = """
                from scipy import ndimage
                a = load(0).reshape((12, 10, 9), order='F')
                save(0, ndimage.zoom(a, (17/12, 13/10, 7/9), order=\(order), mode='\(mode)', grid_mode=True))
                """
            guard let o = Oracle.run(script, inputs: [v.voxels.map(Double.init)], outputs: 1) else { return }
            assertClose(r.voxels, o[0], atol: 2e-4, "zoom order \(order)")
        }
    }

    /// General path (rotated grid) vs `scipy.ndimage.map_coordinates` at the same source positions.
    func testObliqueResampleMatchesMapCoordinates() {
        let v = testVolume([11, 9, 8], seed: 3)
        let c = cos(0.3), s = sin(0.3)
        let target = Grid(dims: [10, 12, 7], affine: Affine(rows: [[0.9 * c, -s, 0.1, 0.4], [s, 1.1 * c, 0, -0.7], [0, 0.05, 1.2, 0.3], [0, 0, 0, 1]]))
        let map = IndexMap(from: target.affine, to: v.affine)!
        var coords = [Double]()
        for k in 0..<7 { for j in 0..<12 { for i in 0..<10 {
            for r in 0..<3 { coords.append(map.m[4 * r] * Double(i) + map.m[4 * r + 1] * Double(j) + map.m[4 * r + 2] * Double(k) + map.m[4 * r + 3]) }
        } } }
        for (interp, order, mode) in [(Interpolation.nearest, 0, "nearest"), (.linear, 1, "nearest"), (.bspline, 3, "mirror")] {
            let r = try! v.resampled(onto: target, interpolation: interp, boundary: .constant(-7), antiAlias: false)
            let script = """
                from scipy import ndimage
                a = load(0).reshape((11, 9, 8), order='F')
                c = load(1).reshape((-1, 3)).T
                out = ndimage.map_coordinates(a, c, order=\(order), mode='\(mode)')
                n = np.array([11, 9, 8])[:, None]
                outside = ((c < -0.5 - 1e-9) | (c > n - 0.5 + 1e-9)).any(axis=0)
                out[outside] = -7
                save(0, out)
                """
            guard let o = Oracle.run(script, inputs: [v.voxels.map(Double.init), coords], outputs: 1) else { return }
            assertClose(r.voxels, o[0], atol: 2e-4, "map_coordinates order \(order)")
        }
    }

    /// Down-sampling smooths first with σ = (f − 1)/2 voxels: scipy gaussian_filter, then zoom.
    func testAntiAliasingMatchesScipy() {
        let v = testVolume([20, 16, 6], seed: 5)
        let r = try! v.resampled(toShape: [8, 8, 6], interpolation: .linear)
        let script = """
            from scipy import ndimage
            a = load(0).reshape((20, 16, 6), order='F')
            s = ndimage.gaussian_filter(a, sigma=((2.5 - 1) / 2, (2 - 1) / 2, 0), mode='reflect', truncate=4.0)
            save(0, ndimage.zoom(s, (8/20, 8/16, 1), order=1, mode='nearest', grid_mode=True))
            """
        guard let o = Oracle.run(script, inputs: [v.voxels.map(Double.init)], outputs: 1) else { return }
        assertClose(r.voxels, o[0], atol: 2e-4, "anti-aliased downsampling")
    }

    /// SimpleITK's linear resampler on a spacing change (origin/direction handled by our affines).
    func testSpacingResampleMatchesSimpleITK() {
        let v = testVolume([14, 12, 10], seed: 9, affine: .scaling([1.0, 1.2, 2.0], origin: [3, -4, 5]))
        let r = try! v.resampled(toSpacing: [0.7, 0.8, 1.5], interpolation: .linear, antiAlias: false)
        let o = r.affine.translation, sp = r.affine.columnNorms
        let script = """
            import SimpleITK as sitk
            a = load(0).reshape((14, 12, 10), order='F')
            img = sitk.GetImageFromArray(a.transpose(2, 1, 0).copy())
            img.SetSpacing((1.0, 1.2, 2.0)); img.SetOrigin((3.0, -4.0, 5.0))
            ref = sitk.Image(\(r.nx), \(r.ny), \(r.nz), sitk.sitkFloat64)
            ref.SetSpacing((\(sp[0]), \(sp[1]), \(sp[2]))); ref.SetOrigin((\(o[0]), \(o[1]), \(o[2])))
            out = sitk.Resample(img, ref, sitk.Transform(), sitk.sitkLinear, -1.0)
            save(0, sitk.GetArrayFromImage(out).transpose(2, 1, 0))
            """
        guard let out = Oracle.run(script, inputs: [v.voxels.map(Double.init)], outputs: 1) else { return }
        // SimpleITK gives the default value outside [0, n−1]; we clamp there — compare inside.
        var ours = [Float](), theirs = [Double]()
        for (a, b) in zip(r.voxels, out[0]) where b != -1 { ours.append(a); theirs.append(b) }
        XCTAssertGreaterThan(ours.count, r.count / 2)
        assertClose(ours, theirs, atol: 2e-4, "SimpleITK linear")
    }

    func testIdentityResampleIsExact() {
        let v = testVolume([9, 7, 5])
        for interp in Interpolation.allCases {
            XCTAssertEqual(try v.resampled(onto: v.grid, interpolation: interp).voxels, v.voxels)
        }
        // Same spacing, shifted by whole voxels (separable path): nearest and linear copy values exactly.
        let shifted = Grid(dims: [6, 5, 3], affine: v.affine * Affine.scaling([1, 1, 1], origin: [2, 1, 2]))
        for interp in [Interpolation.nearest, .linear] {
            let r = try! v.resampled(onto: shifted, interpolation: interp)
            for k in 0..<3 { for j in 0..<5 { for i in 0..<6 { XCTAssertEqual(r[i, j, k], v[i + 2, j + 1, k + 2]) } } }
        }
        // B-spline interpolation of prefiltered coefficients at the samples returns the samples.
        let sameGrid = try! v.resampled(onto: Grid(dims: [9, 7, 5], affine: v.affine * Affine.identity), interpolation: .bspline)
        XCTAssertEqual(sameGrid.voxels, v.voxels)
        let m = IndexMap([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0])
        var co = v.voxels
        co.withUnsafeMutableBufferPointer { bsplinePrefilter($0, dims: [9, 7, 5]) }
        var out = [Float](repeating: 0, count: v.count)
        co.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { o in sampleCoefficients(s, [9, 7, 5], o, [9, 7, 5], m, nil, .bspline, .constant(0)) } }
        assertClose(out, v.voxels.map(Double.init), atol: 1e-5, "B-spline interpolates its samples")
    }

    /// A linear function of world position survives linear resampling exactly, so the output
    /// affine says where each output voxel is (to within float rounding, far below 1e-5 mm).
    func testResampledAffineMapsSameWorldPoints() {
        let c = cos(0.4), s = sin(0.4)
        let a = Affine(rows: [[-1.1 * c, 0, 0.9 * s, 20], [0, 1.3, 0, -12], [1.1 * s, 0, 0.9 * c, 7], [0, 0, 0, 1]])
        var v = Volume(dims: [16, 14, 12], spacing: a.columnNorms, affine: a)
        for k in 0..<12 { for j in 0..<14 { for i in 0..<16 {
            let w = a.apply([Double(i), Double(j), Double(k)])
            v[i, j, k] = Float(0.5 * w[0] - 0.25 * w[1] + 0.125 * w[2])
        } } }
        let r = try! v.resampled(toSpacing: [0.8, 0.7, 1.1], interpolation: .linear, antiAlias: false)
        XCTAssertEqual(r.spacing.map { ($0 * 1e9).rounded() / 1e9 }, [0.8, 0.7, 1.1])
        // The outer corner of the field of view is kept: voxel −0.5 maps to the same world point.
        let before = v.affine.apply([-0.5, -0.5, -0.5]), after = r.affine.apply([-0.5, -0.5, -0.5])
        for q in 0..<3 { XCTAssertEqual(before[q], after[q], accuracy: 1e-9) }
        var got = [Float](), want = [Double]()
        for k in 0..<r.nz { for j in 0..<r.ny { for i in 0..<r.nx {
            let idx = IndexMap(from: r.affine, to: v.affine)!.m
            let x = idx[0] * Double(i) + idx[1] * Double(j) + idx[2] * Double(k) + idx[3]
            let y = idx[4] * Double(i) + idx[5] * Double(j) + idx[6] * Double(k) + idx[7]
            let z = idx[8] * Double(i) + idx[9] * Double(j) + idx[10] * Double(k) + idx[11]
            guard x >= 0, y >= 0, z >= 0, x <= 15, y <= 13, z <= 11 else { continue }
            let w = r.affine.apply([Double(i), Double(j), Double(k)])
            got.append(r[i, j, k])
            want.append(0.5 * w[0] - 0.25 * w[1] + 0.125 * w[2])
        } } }
        // Value error ≤ 1e-4 ⇔ position error ≤ 2e-4 mm along x; Float storage limits this, the affine is exact.
        XCTAssertGreaterThan(got.count, 0)
        XCTAssertLessThan(maxAbsError(got, want), 1e-4)
        // The index map composed with the output affine reproduces the input affine to 1e-9 mm.
        let back = try! r.resampled(onto: v.grid, interpolation: .nearest)
        XCTAssertTrue(back.affine.isClose(to: v.affine, tolerance: 1e-12))
    }

    func testMultiFrameAndThreadIndependence() {
        var v4 = Volume(dims: [8, 6, 5, 2])
        for i in 0..<v4.count { v4.voxels[i] = Float(i % 17) }
        let saved = Runtime.threads
        defer { Runtime.threads = saved }
        Runtime.threads = 1
        let one = try! v4.resampled(toShape: [11, 5, 7], interpolation: .bspline)
        Runtime.threads = 2
        let two = try! v4.resampled(toShape: [11, 5, 7], interpolation: .bspline)
        XCTAssertEqual(one.voxels, two.voxels)
        XCTAssertEqual(one.dims, [11, 5, 7, 2])
        XCTAssertEqual(Array(one.frame(1).voxels), try! v4.frame(1).resampled(toShape: [11, 5, 7], interpolation: .bspline).voxels)
    }

    func testBadParametersAreTypedErrors() {
        let v = testVolume([4, 4, 4])
        XCTAssertThrowsError(try v.resampled(toSpacing: [0, 1, 1])) { XCTAssertTrue($0 is TransformError) }
        XCTAssertThrowsError(try v.resampled(toShape: [4, 4])) { XCTAssertTrue($0 is TransformError) }
        XCTAssertThrowsError(try v.resampled(toSpacing: [1e-9])) { XCTAssertTrue($0 is TransformError) }
    }
}
