import Foundation
import MedVoxTestSupport
import XCTest

/// Resource bounds through the binary: pathological DICOM files (a million nesting
/// levels, a million sequence items, two million tiny elements, a 4 GB length claim, a million
/// pixel fragments) and a gzip bomb. `info` and `convert` on each end with status 0 or 1 (never a
/// signal), one error line naming the file, within a time bound and a peak-memory bound measured
/// by GNU time on that process alone.
final class ResourceBoundsCLITests: XCTestCase {
    typealias cli = BatchCLITests.cli

    /// Explicit VR Little Endian Part 10 file: preamble, meta, then `body`.
    static func part10(_ body: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        let ts = Array("1.2.840.10008.1.2.1\0".utf8)
        let meta = element(0x0002, 0x0010, "UI", ts)
        out += element(0x0002, 0x0000, "UL", [UInt8(meta.count), 0, 0, 0]) + meta
        return out + body
    }

    static func tag(_ g: UInt16, _ e: UInt16) -> [UInt8] { [UInt8(g & 0xff), UInt8(g >> 8), UInt8(e & 0xff), UInt8(e >> 8)] }
    static func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }

    /// A short-form element (2-byte length).
    static func element(_ g: UInt16, _ e: UInt16, _ vr: String, _ value: [UInt8]) -> [UInt8] {
        tag(g, e) + Array(vr.utf8) + [UInt8(value.count & 0xff), UInt8(value.count >> 8)] + value
    }

    /// A long-form element header (SQ, OB, OW, UN …: 2 reserved bytes, 4-byte length).
    static func long(_ g: UInt16, _ e: UInt16, _ vr: String, length: UInt32) -> [UInt8] {
        tag(g, e) + Array(vr.utf8) + [0, 0] + u32(length)
    }

    /// The image attributes a 16×16 16-bit monochrome frame needs.
    static var imageHeader: [UInt8] {
        element(0x0028, 0x0002, "US", [1, 0]) + element(0x0028, 0x0004, "CS", Array("MONOCHROME2 ".utf8))
            + element(0x0028, 0x0010, "US", [16, 0]) + element(0x0028, 0x0011, "US", [16, 0])
            + element(0x0028, 0x0100, "US", [16, 0]) + element(0x0028, 0x0101, "US", [16, 0])
            + element(0x0028, 0x0102, "US", [15, 0]) + element(0x0028, 0x0103, "US", [0, 0])
    }

    static func pathologicalFiles() -> [(name: String, bytes: [UInt8])] {
        let undefined: UInt32 = 0xFFFF_FFFF
        var files: [(String, [UInt8])] = []
        // 1. A million nested sequences of undefined length (20 MB).
        var deep: [UInt8] = []
        deep.reserveCapacity(20_000_000)
        for _ in 0..<1_000_000 { deep += long(0x0008, 0x1140, "SQ", length: undefined) + tag(0xFFFE, 0xE000) + u32(undefined) }
        files.append(("deep.dcm", part10(deep)))
        // 2. One sequence of a million empty items (8 MB), then an image.
        var items = long(0x0008, 0x1140, "SQ", length: undefined)
        items.reserveCapacity(8_000_100)
        for _ in 0..<1_000_000 { items += tag(0xFFFE, 0xE000) + u32(0) }
        items += tag(0xFFFE, 0xE0DD) + u32(0)
        files.append(("items.dcm", part10(items + imageHeader + long(0x7FE0, 0x0010, "OW", length: 512) + [UInt8](repeating: 1, count: 512))))
        // 3. Two million empty LO elements (16 MB).
        var many: [UInt8] = []
        many.reserveCapacity(16_000_000)
        var n = 0
        var g: UInt16 = 0x0011
        while n < 2_000_000 {
            for e in UInt16(0x1000)...UInt16(0xfffe) where n < 2_000_000 {
                many += tag(g, e) + [0x4c, 0x4f, 0, 0]
                n += 1
            }
            g += 2
        }
        files.append(("many.dcm", part10(many)))
        // 4. Pixel data claiming 4 GB in a 1 KB file.
        files.append(("claims4g.dcm", part10(imageHeader + long(0x7FE0, 0x0010, "OW", length: 0xFFFF_FFF0) + [UInt8](repeating: 0, count: 600))))
        // 5. Encapsulated (JPEG Lossless) pixel data of a million empty fragments (8 MB).
        var frag = imageHeader + long(0x7FE0, 0x0010, "OB", length: undefined) + tag(0xFFFE, 0xE000) + u32(0)
        frag.reserveCapacity(8_000_200)
        for _ in 0..<1_000_000 { frag += tag(0xFFFE, 0xE000) + u32(0) }
        frag += tag(0xFFFE, 0xE0DD) + u32(0)
        var encapsulated = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        let ts = Array("1.2.840.10008.1.2.4.70\0".utf8)
        let meta = element(0x0002, 0x0010, "UI", ts)
        encapsulated += element(0x0002, 0x0000, "UL", [UInt8(meta.count), 0, 0, 0]) + meta + frag
        files.append(("fragments.dcm", encapsulated))
        return files
    }

    /// Runs the binary under GNU time: status, stderr without time's line, peak RSS in MB, seconds.
    func measured(_ args: [String]) throws -> (status: Int32, stderr: String, peakMB: Double, seconds: Double) {
        let r = try Subprocess.run("/usr/bin/time", ["-f", "medvox-time %M %e %x", CLITests.binary] + args)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        guard let t = lines.last(where: { $0.hasPrefix("medvox-time ") })?.split(separator: " "), t.count == 4 else {
            XCTFail("no time line: \(r.stderr)")
            return (r.status, r.stderr, .infinity, .infinity)
        }
        let rest = lines.filter { !$0.hasPrefix("medvox-time ") && !$0.hasPrefix("Command exited") }.joined(separator: "\n")
        return (Int32(t[3]) ?? -1, rest, (Double(t[1]) ?? .infinity) / 1024, Double(t[2]) ?? .infinity)
    }

    func testPathologicalFilesAreBoundedInTimeAndMemory() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var cases = Self.pathologicalFiles()
        // A gzip bomb: a 16×16×16 header followed by 1 GiB of zeros (about 1 MB compressed).
        let bomb = root + "/bomb.nii.gz"
        let header = ReliabilityCLITests.nifti(dims: [16, 16, 16], voxels: [Float](repeating: 1, count: 4096))
        let raw = root + "/bomb-header.nii"
        try header.write(to: URL(fileURLWithPath: raw))
        let gz = try Subprocess.run("/bin/sh", ["-c", "{ cat '\(raw)'; head -c 1073741824 /dev/zero; } | gzip -1 > '\(bomb)' && rm '\(raw)'"])
        XCTAssertEqual(gz.status, 0, gz.stderr)
        for c in cases { try Data(c.bytes).write(to: URL(fileURLWithPath: "\(root)/\(c.name)")) }
        cases.removeAll()
        for name in ["deep.dcm", "items.dcm", "many.dcm", "claims4g.dcm", "fragments.dcm", "bomb.nii.gz"] {
            let path = "\(root)/\(name)"
            let size = Double((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) / 1e6
            for args in [["info", path], ["convert", path, root + "/out.nii.gz"]] {
                let r = try measured(args)
                let line = args.joined(separator: " ")
                XCTAssertTrue(r.status == 0 || r.status == 1, "\(line): status \(r.status) \(r.stderr)")
                if r.status == 1 {
                    let errors = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("medvox: warning:") }
                    XCTAssertEqual(errors.count, 1, "\(line): \(r.stderr)")
                    XCTAssertTrue(r.stderr.contains(name), "\(line): \(r.stderr)")
                    XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/out.nii.gz"), line)
                }
                // Peak memory: the file's bytes a few times over plus the runtime, never the
                // sizes the file claims (4 GB, 1 GiB) — and time well below a human's patience.
                XCTAssertLessThan(r.peakMB, 150 + 12 * size, "\(line): \(r.peakMB) MB for a \(size) MB file")
                XCTAssertLessThan(r.seconds, 20, "\(line)")
                print("bounds: \(name) \(args[0]): status \(r.status), \(String(format: "%.0f", r.peakMB)) MB peak, \(r.seconds) s: \(r.stderr.prefix(160))")
                try? FileManager.default.removeItem(atPath: root + "/out.nii.gz")
            }
        }
    }
}
