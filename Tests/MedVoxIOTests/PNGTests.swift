import Foundation
import MedVoxCore
import XCTest

@testable import MedVoxIO

/// An independent PNG decoder in Python's standard library (zlib + the five row filters of the
/// PNG spec §9): prints width, height, bit depth, colour type and the samples.
let pythonPNGDecoder = """
    import json, struct, sys, zlib
    data = open(sys.argv[1], "rb").read()
    assert data[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        if kind == b"IHDR": ihdr = struct.unpack(">IIBBBBB", body)
        if kind == b"IDAT": idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert interlace == 0
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]; bpp = ch * depth // 8; stride = w * bpp
    raw = zlib.decompress(idat); rows = []; prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]; line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line)); prev = line
    flat = b"".join(rows)
    samples = list(flat) if depth == 8 else [flat[i] << 8 | flat[i + 1] for i in range(0, len(flat), 2)]
    print(json.dumps([w, h, depth, ch, samples]))
    """

final class PNGTests: XCTestCase {
    func image(channels: Int, bitDepth: Int, width: Int = 7, height: Int = 5) -> RasterImage {
        let max = bitDepth == 8 ? 255 : 65535
        let n = width * height * channels
        let samples = (0..<n).map { i -> UInt16 in
            // Opaque alpha keeps 16-bit samples exact (libpng premultiplies 16-bit alpha).
            if (channels == 2 || channels == 4) && i % channels == channels - 1 { return UInt16(max) }
            return UInt16((i * 7919) % (max + 1))
        }
        return RasterImage(width: width, height: height, channels: channels, bitDepth: bitDepth, samples: samples)
    }

    func testRoundTripAndAnIndependentDecoderAgree() throws {
        let dir = try temporaryFolder()
        for depth in [8, 16] {
            for channels in 1...4 {
                let im = image(channels: channels, bitDepth: depth)
                let path = "\(dir)/c\(channels)d\(depth).png"
                try PNG.write(im, to: path)
                XCTAssertEqual(try PNG.read(path), im, "channels \(channels) depth \(depth)")
                let d = try Oracle.json(pythonPNGDecoder, [path]) as! [Any]
                XCTAssertEqual(d[0] as? Int, im.width)
                XCTAssertEqual(d[1] as? Int, im.height)
                XCTAssertEqual(d[2] as? Int, depth)
                XCTAssertEqual(d[3] as? Int, channels)
                XCTAssertEqual((d[4] as! [Int]).map { UInt16($0) }, im.samples, "channels \(channels) depth \(depth)")
            }
        }
        XCTAssertThrowsError(try PNG.decode([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], path: "x.png")) { e in
            XCTAssertTrue("\(e)".hasPrefix("x.png: "))
        }
    }
}

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
