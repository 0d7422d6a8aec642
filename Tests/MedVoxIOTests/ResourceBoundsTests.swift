import Foundation
import MedVoxCore
import XCTest

@testable import MedVoxIO

/// Resource bounds: decompression bombs (.nii.gz, deflated DICOM), millions of tiny
/// DICOM elements, pathological JPEG marker streams. Each must end in bounded time and memory,
/// with a clear MedVoxError or a correct result.
final class ResourceBoundsTests: XCTestCase {
    var saved = Runtime.maxMemory
    override func setUp() { saved = Runtime.maxMemory }
    override func tearDown() { Runtime.maxMemory = saved }

    func temporary(_ name: String) -> String {
        NSTemporaryDirectory() + "medvox-bounds-\(getpid())-" + name
    }

    /// A NIfTI-1 header (348 bytes + 4-byte extension flag) for `dims` of uint8.
    func niftiHeader(_ dims: [Int]) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 352)
        func put<T>(_ v: T, _ at: Int) { withUnsafeBytes(of: v) { for (k, b) in $0.enumerated() { h[at + k] = b } } }
        put(Int32(348), 0)
        put(Int16(dims.count), 40)
        for (k, d) in dims.enumerated() { put(Int16(d), 42 + 2 * k) }
        put(Int16(2), 70)
        put(Int16(8), 72)
        for k in 0...3 { put(Float(1), 76 + 4 * k) }
        put(Float(352), 108)
        for (k, b) in "n+1\0".utf8.enumerated() { h[344 + k] = b }
        return h
    }

    func gzipFile(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path + ".raw"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "gzip -1 -c '\(path).raw' > '\(path)' && rm '\(path).raw'"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }

    /// A .nii.gz whose header declares 8×8×8 bytes but whose stream inflates to 64 MiB more
    /// (standard gzip, as other tools write): only the declared bytes are inflated.
    func testNIfTIGzipBombReadsOnlyTheDeclaredVoxels() throws {
        let path = temporary("bomb.nii.gz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes = niftiHeader([8, 8, 8]) + (0..<512).map { UInt8($0 % 251) }
        bytes += [UInt8](repeating: 0, count: 64 << 20)
        try gzipFile(bytes, to: path)
        Runtime.maxMemory = 8 << 20
        let start = Date()
        let v = try NIfTIFile.open(path).volume()
        XCTAssertEqual(v.dims, [8, 8, 8])
        XCTAssertEqual(v.voxels[511], Float(511 % 251))
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "the trailing 64 MiB must not be inflated")
    }

    /// MedVox's own indexed gzip (parallel members) with the same bomb: only the members holding
    /// the declared voxels are inflated, even with no --max-memory below physical memory.
    func testNIfTIIndexedGzipBombInflatesOnlyTheMembersHoldingTheVoxels() throws {
        let path = temporary("bomb-indexed.nii.gz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes = niftiHeader([8, 8, 8]) + [UInt8](repeating: 7, count: 512)
        bytes += [UInt8](repeating: 0, count: 256 << 20)
        let compressed = try Gzip.compress(bytes)
        XCTAssertNotNil(compressed.withUnsafeBytes { Gzip.memberIndex($0) }, "must be MedVox's indexed form")
        try Data(compressed).write(to: URL(fileURLWithPath: path))
        let start = Date()
        let v = try NIfTIFile.open(path).volume()
        XCTAssertEqual(v.dims, [8, 8, 8])
        XCTAssertEqual(v.voxels[511], 7)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "the trailing 256 MiB must not be inflated")
    }

    /// An indexed member whose size field promises more than deflate's 1032:1 is not trusted as
    /// an index (the capped streaming reader takes over).
    func testIndexPromisingMoreThanDeflateCanHoldIsIgnored() throws {
        var member = try Gzip.compress([UInt8](repeating: 3, count: 1000))
        XCTAssertNotNil(member.withUnsafeBytes { Gzip.memberIndex($0) })
        // Patch the raw-size fields (extra field and ISIZE) to 1 GiB.
        let huge = 1 << 30
        for o in [20, member.count - 4] { for k in 0..<4 { member[o + k] = UInt8((huge >> (8 * k)) & 0xff) } }
        XCTAssertNil(member.withUnsafeBytes { Gzip.memberIndex($0) })
        XCTAssertThrowsError(try Inflate.gzip(member, maxOutput: 1 << 20, source: "patched.gz"))
    }

    /// A header declaring 512³ uint8 (128 MiB) from a small file of zeros: within deflate's ratio
    /// but above --max-memory, refused before allocation.
    func testNIfTIHeaderAboveTheMemoryCapIsRefused() throws {
        let path = temporary("big.nii.gz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try gzipFile(niftiHeader([512, 512, 512]) + [UInt8](repeating: 0, count: 128 << 20), to: path)
        Runtime.maxMemory = 32 << 20
        XCTAssertThrowsError(try NIfTIFile.open(path).volume()) { e in
            XCTAssertTrue("\(e)".contains("max-memory"), "\(e)")
            XCTAssertTrue("\(e)".contains(path), "\(e)")
        }
    }

    /// The file meta of a deflated fixture followed by a raw deflate stream of 64 MiB of zeros.
    func deflatedDICOMBomb() throws -> [UInt8] {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/dicom/deflated/IM0001.dcm").path
        let f = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture)))
        XCTAssertEqual(Array(f[128..<132]), Array("DICM".utf8))
        let groupLength = Int(f[140]) | Int(f[141]) << 8 | Int(f[142]) << 16 | Int(f[143]) << 24
        let metaEnd = 144 + groupLength
        return Array(f[0..<metaEnd]) + (try Deflate.raw([UInt8](repeating: 0, count: 64 << 20), level: 9))
    }

    /// With no --max-memory (physical memory), the ratio cap stops the same bomb: 64 MiB from
    /// 65 KB is far beyond what any real data set deflates to.
    func testDeflatedDICOMBombStopsAtTheRatioCap() throws {
        let bomb = try deflatedDICOMBomb()
        Runtime.maxMemory = 1 << 40
        XCTAssertThrowsError(try DICOMFile(bytes: bomb, path: "bomb.dcm")) { e in
            XCTAssertTrue("\(e)".contains("bomb.dcm"), "\(e)")
            XCTAssertTrue("\(e)".contains("decompression bomb"), "\(e)")
        }
    }

    func testDeflatedDICOMBombStopsAtTheMemoryCap() throws {
        let bomb = try deflatedDICOMBomb()
        XCTAssertLessThan(bomb.count, 200_000)
        Runtime.maxMemory = 16 << 20
        let start = Date()
        XCTAssertThrowsError(try DICOMFile(bytes: bomb, path: "bomb.dcm")) { e in
            XCTAssertTrue(e is MedVoxError, "\(e)")
            XCTAssertTrue("\(e)".contains("bomb.dcm"), "\(e)")
        }
        // And through a file on disk (the header-prefix path).
        let path = temporary("bomb.dcm")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bomb).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try DICOMFile(path: path)) { e in XCTAssertTrue("\(e)".contains(path), "\(e)") }
        XCTAssertLessThan(Date().timeIntervalSince(start), 60)
    }

    /// Explicit VR Little Endian data set of `count` empty elements (each 8 bytes), tags increasing.
    func manyElements(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        func element(_ g: UInt16, _ e: UInt16, _ vr: String, _ value: [UInt8]) -> [UInt8] {
            var b = [UInt8(g & 0xff), UInt8(g >> 8), UInt8(e & 0xff), UInt8(e >> 8)] + Array(vr.utf8)
            b += [UInt8(value.count & 0xff), UInt8(value.count >> 8)]
            return b + value
        }
        let ts = Array("1.2.840.10008.1.2.1\0".utf8)
        let meta = element(0x0002, 0x0010, "UI", ts)
        out += element(0x0002, 0x0000, "UL", [UInt8(meta.count), 0, 0, 0]) + meta
        out.reserveCapacity(out.count + count * 8)
        var n = 0
        var g: UInt16 = 0x0011
        while n < count {
            for e in UInt16(0x1000)...UInt16(0xfffe) where n < count {
                out += [UInt8(g & 0xff), UInt8(g >> 8), UInt8(e & 0xff), UInt8(e >> 8), 0x4c, 0x4f, 0, 0]  // LO, length 0
                n += 1
            }
            g += 2
        }
        return out
    }

    /// Two million empty elements (16 MB): parsed or refused within a time bound, no crash.
    func testMillionsOfTinyElementsAreBoundedInTime() throws {
        let bytes = manyElements(2_000_000)
        let start = Date()
        do {
            let f = try DICOMFile(bytes: bytes, path: "many.dcm")
            XCTAssertThrowsError(try f.pixelInfo())
        } catch let e as MedVoxError {
            XCTAssertTrue(e.description.contains("many.dcm"), e.description)
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertLessThan(seconds, 30, "2M elements took \(seconds) s")
    }

    /// JPEG streams made of markers only: 200 000 APP segments, runs of fill bytes, a frame
    /// header promising 65535×65535, a restart marker storm. Each decoder refuses cleanly and fast.
    func testPathologicalJPEGMarkerStreamsAreRefusedQuickly() throws {
        let info = PixelFrameInfo(rows: 16, columns: 16, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 12,
                                  isSigned: false, planarConfiguration: 0, photometricInterpretation: "MONOCHROME2")
        var apps: [UInt8] = [0xff, 0xd8]
        for _ in 0..<200_000 { apps += [0xff, 0xe1, 0x00, 0x02] }
        apps += [0xff, 0xd9]
        let fill: [UInt8] = [0xff, 0xd8] + [UInt8](repeating: 0xff, count: 1 << 20)
        let sof3: [UInt8] = [0xff, 0xd8, 0xff, 0xc3, 0x00, 0x0b, 12, 0xff, 0xff, 0xff, 0xff, 1, 1, 0x11, 0]
            + [0xff, 0xda, 0x00, 0x08, 1, 1, 0x00, 1, 0, 0] + [UInt8](repeating: 0, count: 64) + [0xff, 0xd9]
        var rst: [UInt8] = [0xff, 0xd8, 0xff, 0xc3, 0x00, 0x0b, 12, 0, 16, 0, 16, 1, 1, 0x11, 0, 0xff, 0xdd, 0, 4, 0, 1]
        rst += [0xff, 0xda, 0x00, 0x08, 1, 1, 0x00, 1, 0, 0]
        for k in 0..<100_000 { rst += [0xff, 0xd0 + UInt8(k % 8)] }
        let decoders: [PixelDecoder.Type] = [JPEGLosslessDecoder.self, JPEGDecoder.self, JPEGLSDecoder.self, JPEG2000Decoder.self]
        for (name, stream) in [("APP storm", apps), ("fill bytes", fill), ("65535² frame", sof3), ("RST storm", rst)] {
            for d in decoders {
                let start = Date()
                do {
                    let out = try d.decode(stream, info: info)
                    XCTAssertEqual(out.bytes.count, info.decodedByteCount, "\(d) \(name)")
                } catch {
                    XCTAssertTrue(error is MedVoxError, "\(d) \(name): \(error)")
                }
                XCTAssertLessThan(Date().timeIntervalSince(start), 5, "\(d) on \(name)")
            }
        }
    }
}
