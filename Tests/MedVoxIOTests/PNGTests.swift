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
