import Foundation
import MedVoxCore
import XCTest

@testable import MedVoxTransforms

/// The C resampling kernels (CMedVoxKernels/resample.c) against their Swift definitions, bit for
/// bit, on grids that exercise the interior fast path, the edge shell, positions beyond the extent,
/// displacements, odd row lengths (vector tails), thin volumes and every thread count.
final class ResampleKernelTests: XCTestCase {
    override func tearDown() {
        KernelSettings.current.reference = false
    }

    /// Runs `body` with the C kernels and with the Swift ones, at 1 and 2 threads; all four must agree.
    func assertSameBits(_ what: String, _ body: () throws -> [Float]) rethrows {
        let saved = Runtime.threads
        defer { Runtime.threads = saved; KernelSettings.current.reference = false }
        var results = [[Float]]()
        for useC in [false, true] {
            for threads in [1, 2] {
                KernelSettings.current.reference = !useC
                Runtime.threads = threads
                results.append(try body())
            }
        }
        let ref = results[0].map(\.bitPattern)
        for (n, r) in results.enumerated().dropFirst() {
            let bits = r.map(\.bitPattern)
            let first = ref.indices.first { ref[$0] != bits[$0] }
            XCTAssertNil(first, "\(what): run \(n) differs at \(first ?? -1): \(first.map { results[0][$0] } ?? 0) vs \(first.map { r[$0] } ?? 0)")
        }
    }

    func testGeneralGridIsBitIdenticalToSwift() throws {
        for (dims, out) in [([23, 19, 17], [29, 21, 18]), ([9, 7, 1], [13, 5, 1]), ([2, 2, 2], [5, 4, 3]), ([40, 3, 6], [37, 5, 7])] {
            let v = testVolume(dims, seed: 9)
            let a = 0.35, c = cos(a), s = sin(a)
            let target = Grid(dims: out, affine: Affine(rows: [[0.8 * c, -s, 0.15, -1.3], [s * 0.9, 1.1 * c, -0.2, 0.6], [0.1, 0.25, 0.9, -0.4], [0, 0, 0, 1]]))
            for interp in [Interpolation.linear, .nearest] {
                for boundary in [Boundary.constant(-3.5), .edge] {
                    try assertSameBits("\(dims) → \(out) \(interp) \(boundary)") {
                        try v.resampled(onto: target, interpolation: interp, boundary: boundary, antiAlias: false).voxels
                    }
                }
            }
        }
    }

    func testAugmentationWarpsAreBitIdenticalToSwift() throws {
        let image = testVolume([33, 27, 21], seed: 4)
        var label = Volume(dims: [33, 27, 21])
        for i in 0..<label.count { label.voxels[i] = Float(i % 5) }
        for spec in ["affine", "elastic", "motion", "anisotropy"] {
            var pipeline = try AugmentPipeline.parse(spec: spec)
            if spec == "affine" {
                pipeline.transforms[0].translation = [4]
                pipeline.transforms[0].shear = [0.1]
            }
            for seed: UInt64 in [1, 2, 3] {
                try assertSameBits("\(spec) seed \(seed)") {
                    let (out, _) = try pipeline.apply(to: Sample(image: image, labels: [label]), seed: seed)
                    return out.image.voxels + out.labels[0].voxels
                }
            }
        }
    }

    func testSeparableResampleIsBitIdenticalToSwift() throws {
        let v = testVolume([21, 17, 13], seed: 2)
        for interp in Interpolation.allCases {
            for shape in [[28, 22, 17], [9, 8, 6], [21, 30, 1], [40, 5, 13]] {
                try assertSameBits("zoom \(shape) \(interp)") { try v.resampled(toShape: shape, interpolation: interp).voxels }
            }
            // A shift: part of the output lies beyond the input's extent (constant fill).
            let shifted = Grid(dims: [25, 18, 14], affine: v.affine * Affine(rows: [[0.9, 0, 0, -3.2], [0, 1.2, 0, 2.5], [0, 0, 0.8, 4.1], [0, 0, 0, 1]]))
            try assertSameBits("shifted \(interp)") { try v.resampled(onto: shifted, interpolation: interp, boundary: .constant(7), antiAlias: false).voxels }
        }
    }

    func testMinimumOfFiniteValues() {
        var v = [Float](repeating: 3, count: 300_000)
        v[5] = -.infinity
        v[77_777] = .nan
        v[123_456] = -2.5
        v[299_999] = -2.75
        XCTAssertEqual(ResampleKernels.minFinite(v), -2.75)
        XCTAssertNil(ResampleKernels.minFinite([.nan, .infinity, -.infinity]))
        XCTAssertNil(ResampleKernels.minFinite([]))
        XCTAssertEqual(ResampleKernels.minFinite([4, 2, 8]), 2)
    }
}
