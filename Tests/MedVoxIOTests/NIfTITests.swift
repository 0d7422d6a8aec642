import Foundation
import MedVoxCore
import MedVoxTestSupport
import XCTest

@testable import MedVoxIO

/// nibabel loads a file and prints what MedVox must agree with: shape, best affine, zooms,
/// scaled values (Fortran order = MedVox's i-fastest order), and the on-disk dtype.
let nibabelDump = """
    import json, sys
    import numpy as np, nibabel as nib
    out = []
    for path in sys.argv[1:]:
        img = nib.load(path)
        d = np.asanyarray(img.dataobj)
        if d.dtype.names:  # RGB24: channels as frames
            d = np.stack([d[n] for n in d.dtype.names], axis=-1).astype(np.float64)
        else:
            d = img.get_fdata(dtype=np.float64)
        out.append({"shape": list(img.shape), "affine": img.affine.tolist(),
            "zooms": [float(z) for z in img.header.get_zooms()],
            "values": [None if np.isnan(v) else float(v) for v in d.ravel(order="F")],
            "dtype": str(img.header.get_data_dtype().newbyteorder("=")), "sform_code": int(img.header["sform_code"]),
            "qform_code": int(img.header["qform_code"]), "qform": img.header.get_qform().tolist()})
    print(json.dumps(out).replace("Infinity", "1e999"))
    """

struct NibabelView {
    var shape: [Int]
    var affine: [Double]
    var zooms: [Double]
    var values: [Double]
    var dtype: String
    var qform: [Double]
    var sformCode: Int
    var qformCode: Int

    /// What nibabel sees in each file (one Python process for all).
    static func load(_ paths: [String]) throws -> [NibabelView] {
        let list = try Oracle.json(nibabelDump, paths) as! [[String: Any]]
        return list.map(NibabelView.init)
    }

    init(_ path: String) throws {
        self = try NibabelView.load([path])[0]
    }

    init(_ d: [String: Any]) {
        shape = d["shape"] as! [Int]
        affine = (d["affine"] as! [[Double]]).flatMap { $0 }
        zooms = d["zooms"] as! [Double]
        values = (d["values"] as! [Any]).map { ($0 as? Double) ?? .nan }
        dtype = d["dtype"] as! String
        qform = (d["qform"] as! [[Double]]).flatMap { $0 }
        sformCode = d["sform_code"] as! Int
        qformCode = d["qform_code"] as! Int
    }
}

final class NIfTIReadTests: XCTestCase {
    let readable =
        [
            "int16.nii", "int16.nii.gz", "pair.hdr", "multimember.nii.gz", "qform_only.nii", "sform_only.nii",
            "no_xform.nii", "both_xforms.nii", "scaled.nii", "slope_zero.nii", "fourd.nii.gz", "extension.nii",
            "nifti2.nii", "nifti2.nii.gz", "rgb24.nii",
        ] + ScalarType.allCases.filter { $0 != .rgb24 }.flatMap { ["dtype_\($0)_le.nii", "dtype_\($0)_be.nii"] }

    func testEveryFixtureMatchesNibabel() throws {
        let views = try NibabelView.load(readable.map(fixture))
        defer { Libdeflate.enabled = true }
        for ((name, nb), fast) in zip(readable, views).flatMap({ p in [(p, true), (p, false)] }) {
            Libdeflate.enabled = fast
            let path = fixture(name)
            let v = try ImageFile.read(path)
            var shape = nb.shape
            if name == "rgb24.nii" { shape.append(3) }
            XCTAssertEqual(v.dims, shape, name)
            assertClose(v.affine.m, nb.affine, rtol: 1e-6, atol: 1e-5, name)
            assertClose(v.spacing, Array(nb.zooms.prefix(3)), rtol: 1e-6, atol: 0, name)
            // Values are Float32 in MedVox: compare at single precision. The float64 fixtures hold
            // 1e300, beyond Float32: +∞ once read, on both sides, which must match exactly.
            let ours = v.voxels.map { Double($0) }
            let theirs = nb.values.map { $0.isNaN ? .nan : Double(Float($0)) }
            assertClose(ours, theirs, rtol: 1e-6, atol: 0, matchingNonFinite: true, name)
            XCTAssertEqual(v.storedType.rawValue, name == "rgb24.nii" ? "rgb24" : nb.dtype, name)
        }
    }

    func testJunkAfterTheLastGzipMemberIsIgnoredAsGzipDoes() throws {
        // nibabel refuses this file; gzip(1) and MedVox read it.
        XCTAssertEqual(
            try ImageFile.read(fixture("trailing_garbage.nii.gz")).voxels,
            try ImageFile.read(fixture("int16.nii")).voxels)
    }

    func testMicrometreUnitsAreConvertedToMillimetres() throws {
        let v = try ImageFile.read(fixture("units_micron.nii"))
        let nb = try NibabelView(fixture("units_micron.nii"))
        // nibabel leaves the numbers in µm; MedVox states mm.
        assertClose(v.affine.m, nb.affine.enumerated().map { $0.offset < 12 ? $0.element / 1000 : $0.element }, rtol: 1e-6, atol: 1e-6)
        assertClose(v.spacing, [1.5, 2, 2.5], rtol: 1e-6, atol: 1e-6)
    }

    func testHeaderOnlyOpenAndRawAccessor() throws {
        let f = try NIfTIFile.open(fixture("scaled.nii"))
        XCTAssertEqual(f.shape, [5, 4, 3])
        XCTAssertEqual(f.storedType, .int16)
        XCTAssertEqual(f.scaling, IntensityScaling(slope: 0.5, intercept: -10))
        XCTAssertEqual(f.affine.source, .sform)
        let raw = try f.rawData()
        let be = try NIfTIFile.open(fixture("dtype_int16_be.nii"))
        XCTAssertEqual(be.header.byteOrder, .big)
        // Raw values are host order whatever the file's order.
        XCTAssertEqual(try be.rawData(), try NIfTIFile.open(fixture("dtype_int16_le.nii")).rawData())
        let v = try f.volume()
        raw.withUnsafeBytes { r in
            for i in 0..<60 {
                XCTAssertEqual(v.voxels[i], Float(0.5 * Double(r.load(fromByteOffset: 2 * i, as: Int16.self)) - 10))
            }
        }
        XCTAssertEqual(try NIfTIFile.open(fixture("extension.nii")).header.extensions.map(\.code), [6])
        XCTAssertEqual(try NIfTIFile.open(fixture("fourd.nii.gz")).timeStep, 2)
        XCTAssertEqual(try NIfTIFile.open(fixture("no_xform.nii")).affine.source, .base)
        XCTAssertEqual(try NIfTIFile.open(fixture("qform_only.nii")).affine.source, .qform)
        // The .img of a pair opens through its .hdr.
        XCTAssertEqual(try ImageFile.read(fixture("pair.img")).voxels, try ImageFile.read(fixture("pair.hdr")).voxels)
    }

    func testMalformedFilesFailWithAClearTypedError() throws {
        let bad = try FileManager.default.contentsOfDirectory(atPath: fixturesDir + "/nifti").filter {
            $0.hasPrefix("bad_")
        }
        XCTAssertGreaterThanOrEqual(bad.count, 11)
        for name in bad {
            XCTAssertThrowsError(try ImageFile.read(fixture(name)), name) { e in
                XCTAssertTrue(e is MedVoxError, "\(name): \(e) is not a MedVoxError")
                let text = "\(e)"
                XCTAssertTrue(text.contains(name), "\(name): message does not name the file: \(text)")
                XCTAssertFalse(text.contains("\n"), "\(name): message is not one line")
            }
        }
    }

    func testMemoryCapRefusesBeforeAllocating() throws {
        let saved = Runtime.maxMemory
        defer { Runtime.maxMemory = saved }
        Runtime.maxMemory = 100
        for name in ["int16.nii", "int16.nii.gz"] {
            XCTAssertThrowsError(try ImageFile.read(fixture(name))) { e in
                guard case NIfTIError.tooLarge = e else { return XCTFail("\(name): \(e)") }
            }
        }
    }

    func testHeaderRoundTripsThroughTheTables() throws {
        for name in ["int16.nii", "nifti2.nii", "dtype_float64_be.nii"] {
            let f = try NIfTIFile.open(fixture(name))
            var h = f.header
            h.extensions = []
            let again = try NIfTIHeader.parse(h.encoded() + [0, 0, 0, 0], path: name)
            XCTAssertEqual(again, h, name)
        }
    }
}

final class NIfTIWriteTests: XCTestCase {
    /// A volume with an oblique, anisotropic affine and values that fit every type.
    func sampleVolume(dims: [Int] = [6, 5, 4], type: ScalarType = .int16) -> Volume {
        let n = dims.reduce(1, *)
        let values: [Float] = (0..<n).map { i in
            let x = Float((i * 37) % 101)
            switch type {
            case .uint8, .uint16, .uint32, .uint64: return x
            case .float32, .float64: return x * 0.37 - 11.25
            default: return x - 50
            }
        }
        let theta = 0.3
        let affine = Affine(rows: [
            [-1.2 * cos(theta), 2 * sin(theta), 0, 40], [1.2 * sin(theta), 2 * cos(theta), 0, -30], [0, 0, 3.5, 12.5],
            [0, 0, 0, 1],
        ])
        var v = Volume(dims: dims, spacing: affine.columnNorms, affine: affine, voxels: values, storedType: type)
        if dims.count > 3 { v.timeStep = 1.5 }
        return v
    }

    func testNibabelReadsWhatMedVoxWrites() throws {
        let dir = try temporaryFolder()
        let cases = ScalarType.allCases.filter { $0 != .rgb24 }.flatMap { t in [".nii", ".nii.gz"].map { (t, $0) } }
        for (type, suffix) in cases { try ImageFile.write(sampleVolume(type: type), to: "\(dir)/\(type)\(suffix)") }
        let views = try NibabelView.load(cases.map { "\(dir)/\($0.0)\($0.1)" })
        for ((type, suffix), nb) in zip(cases, views) {
            do {
                let v = sampleVolume(type: type)
                let path = "\(dir)/\(type)\(suffix)"
                XCTAssertEqual(nb.shape, v.dims)
                XCTAssertEqual(nb.dtype, type.rawValue)
                // (JSON text carries doubles to ~1 ulp.)
                assertClose(nb.values, v.voxels.map(Double.init), rtol: 1e-14, atol: 0, "\(type)\(suffix)")
                assertClose(nb.affine, v.affine.m, rtol: 1e-6, atol: 1e-5)
                assertClose(nb.qform, v.affine.m, rtol: 1e-5, atol: 1e-4, "qform consistent with sform")
                assertClose(Array(nb.zooms.prefix(3)), v.affine.columnNorms, rtol: 1e-6, atol: 0)
                XCTAssertEqual([nb.sformCode, nb.qformCode], [1, 1])
                // And MedVox reads it back exactly.
                let back = try ImageFile.read(path)
                XCTAssertEqual(back.voxels, v.voxels)
                XCTAssertTrue(back.affine.isClose(to: v.affine, tolerance: 1e-5))
            }
        }
    }

    func testMultiMemberFilesReadInParallelMatchNibabel() throws {
        // 128×128×72 int16 = 2.4 MB: two gzip members, read in parallel pieces.
        let dir = try temporaryFolder()
        let v = sampleVolume(dims: [128, 128, 72], type: .int16)
        try ImageFile.write(v, to: dir + "/big.nii.gz")
        XCTAssertEqual(try readWholeFile(dir + "/big.nii.gz").withUnsafeBytes { Gzip.memberIndex($0)?.count }, 2)
        XCTAssertEqual(try ImageFile.read(dir + "/big.nii.gz").voxels, v.voxels)
        let nb = try NibabelView(dir + "/big.nii.gz")
        XCTAssertEqual(nb.values.map { Float($0) }, v.voxels)
    }

    func testFourDNIfTI2AndScaledRoundTrips() throws {
        let dir = try temporaryFolder()
        let v4 = sampleVolume(dims: [4, 3, 2, 5], type: .float32)
        var o = NIfTIWriteOptions(version: 2)
        o.compressionLevel = 6
        try ImageFile.write(v4, to: dir + "/v4.nii.gz", options: o)
        let nb = try NibabelView(dir + "/v4.nii.gz")
        XCTAssertEqual(nb.shape, [4, 3, 2, 5])
        XCTAssertEqual(nb.zooms[3], 1.5)
        XCTAssertEqual(try NIfTIFile.open(dir + "/v4.nii.gz").header.version, 2)
        XCTAssertEqual(try ImageFile.read(dir + "/v4.nii.gz").voxels, v4.voxels)
        // A scaled file written back as its stored type keeps its scaling and values.
        let scaled = try ImageFile.read(fixture("scaled.nii"))
        try ImageFile.write(scaled, to: dir + "/s.nii")
        let f = try NIfTIFile.open(dir + "/s.nii")
        XCTAssertEqual(f.scaling, scaled.scaling)
        XCTAssertEqual(try f.volume().voxels, scaled.voxels)
        // Fractional values into an integer type get a slope that spans the type.
        let frac = sampleVolume(type: .float32)
        try ImageFile.write(frac, to: dir + "/f.nii", as: .int16)
        let back = try ImageFile.read(dir + "/f.nii")
        let (lo, hi) = frac.range!
        let step = Double(hi - lo) / 65533
        assertClose(back.voxels.map(Double.init), frac.voxels.map(Double.init), rtol: 0, atol: step)
        // Masks as uint8 keep the exact geometry.
        let mask = frac.withVoxels(frac.voxels.map { $0 > 0 ? 1 : 0 }, storedType: .uint8)
        try ImageFile.write(mask, to: dir + "/m.nii.gz")
        let nbm = try NibabelView(dir + "/m.nii.gz")
        XCTAssertEqual(nbm.dtype, "uint8")
        assertClose(nbm.affine, frac.affine.m, rtol: 1e-6, atol: 1e-5)
    }

    func testMedVoxReadsWhatNibabelWritesForRandomVolumes() throws {
        let dir = try temporaryFolder()
        _ = try Oracle.python(
            """
            import sys, numpy as np, nibabel as nib
            rng = np.random.default_rng(7)
            for i, dt in enumerate(["int16", "float32", "uint8", "float64"]):
                a = (rng.normal(0, 300, (7, 6, 5)) if dt[0] == "f" else rng.integers(0, 200, (7, 6, 5))).astype(dt)
                aff = np.eye(4); aff[:3, :3] = rng.normal(0, 2, (3, 3)); aff[:3, 3] = rng.normal(0, 50, 3)
                img = nib.Nifti1Image(a, aff) if i % 2 == 0 else nib.Nifti2Image(a, aff)
                nib.save(img, f"{sys.argv[1]}/r{i}.nii.gz")
            """, [dir])
        for i in 0..<4 {
            let path = "\(dir)/r\(i).nii.gz"
            let nb = try NibabelView(path)
            let v = try ImageFile.read(path)
            assertClose(v.affine.m, nb.affine, rtol: 1e-6, atol: 1e-5)
            assertClose(v.voxels.map(Double.init), nb.values.map { Double(Float($0)) }, rtol: 1e-7, atol: 0)
        }
    }

    func testOrientationCodesAgreeWithAff2axcodes() throws {
        let out = try Oracle.python(
            """
            import json, numpy as np, nibabel as nib
            rng = np.random.default_rng(3)
            rows = []
            for _ in range(200):
                a = np.eye(4)
                q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
                a[:3, :3] = q @ np.diag(rng.uniform(0.3, 4, 3)) + rng.normal(0, 0.15, (3, 3))
                rows.append([a.ravel().tolist(), "".join(nib.aff2axcodes(a))])
            print(json.dumps(rows))
            """)
        let rows = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [[Any]]
        XCTAssertEqual(rows.count, 200)
        for r in rows {
            let a = Affine(elements: r[0] as! [Double])
            XCTAssertEqual(Orientation(affine: a).codes, r[1] as! String)
        }
    }

    func testQuaternionRoundTripMatchesTheAffine() {
        // Proper and improper rotations with zooms: qform(quaternion(A)) == A.
        for det in [1.0, -1.0] {
            for angle in stride(from: 0.0, to: 6.3, by: 0.7) {
                let c = cos(angle), s = sin(angle)
                let a = Affine(rows: [
                    [c * 2, 0, s * 3 * det, 5], [0, 1.5, 0, -7], [-s * 2, 0, c * 3 * det, 9], [0, 0, 0, 1],
                ])
                var h = NIfTIHeader()
                let q = NIfTIGeometry.quaternion(of: a)
                h.quatern = [q.b, q.c, q.d]
                h.pixdim = [q.qfac] + q.zooms + [1, 1, 1, 1]
                h.qoffset = a.translation
                XCTAssertTrue(NIfTIGeometry.qform(h).isClose(to: a, tolerance: 1e-9), "angle \(angle) det \(det)")
            }
        }
    }

    func testFailedWriteLeavesNothingBehind() throws {
        let dir = try temporaryFolder()
        XCTAssertThrowsError(try ImageFile.write(sampleVolume(), to: dir + "/x.mha"))
        // A file where the output folder should be: refused, and nothing added.
        FileManager.default.createFile(atPath: dir + "/blocker", contents: Data([1]))
        XCTAssertThrowsError(try ImageFile.write(sampleVolume(), to: dir + "/blocker/x.nii"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["blocker"])
        // Missing folders on the way are made.
        try ImageFile.write(sampleVolume(), to: dir + "/new/deeper/x.nii")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/new/deeper/x.nii"))
    }
}
