import Foundation
import MedVoxCore

#if canImport(Glibc)
    import Glibc
#endif

/// One DICOM file with its header parsed and its pixel data located but not read
/// (headers eagerly, pixels lazily: rule 11 of STYLE.md).
///
/// ```swift
/// let f = try DICOMFile(path: "IM0001.dcm")
/// print(f.dataset.string(.modality) ?? "", f.transferSyntax.name)
/// let frame = try f.readPixelBytes()          // raw value of (7FE0,0010)
/// ```
public struct DICOMFile: Sendable {
    public let path: String
    /// File meta information (group 0002); empty for raw data sets without a Part 10 header.
    public let meta: DICOMDataset
    /// The data set up to (not including) the pixel data.
    public let dataset: DICOMDataset
    public let transferSyntax: TransferSyntax
    /// Where the pixel data value is; nil when the file has none.
    public let pixelData: PixelDataLocation?
    /// True when the file starts with the 128-byte preamble and "DICM" (PS3.10 §7.1).
    public let hasPart10Header: Bool
    public let fileSize: Int
    /// The whole (inflated) data set stream, kept only for deflated files, whose pixel offsets
    /// refer to it rather than to the file.
    let inflated: [UInt8]?

    /// Bytes read first when parsing a header; larger headers cause one re-read of the whole file.
    static let headerPrefix = 64 * 1024

    /// Parses the header of `path`. Throws `DICOMError.notDICOM` for files that are neither
    /// Part 10 nor a recognisable raw data set.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileError.cannotRead(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        fileSize = size
        var prefix = try Self.pread(fd: fd, path: path, offset: 0, count: min(size, Self.headerPrefix))
        while true {
            do {
                let complete = prefix.count == size
                let r = try Self.parse(prefix, path: path, complete: complete)
                meta = r.meta
                dataset = r.dataset
                transferSyntax = r.ts
                pixelData = r.pixel
                hasPart10Header = r.part10
                inflated = r.inflated
                return
            } catch is DICOMParser.NeedMoreData {
                prefix = try Self.pread(fd: fd, path: path, offset: 0, count: size)
            }
        }
    }

    struct Parsed {
        var meta: DICOMDataset, dataset: DICOMDataset, ts: TransferSyntax, pixel: PixelDataLocation?, part10: Bool
        var inflated: [UInt8]?
    }

    /// Parses a whole file held in memory (used for tests and for bytes from elsewhere).
    public init(bytes: [UInt8], path: String) throws {
        let r = try Self.parse(bytes, path: path, complete: true)
        self.path = path
        meta = r.meta
        dataset = r.dataset
        transferSyntax = r.ts
        pixelData = r.pixel
        hasPart10Header = r.part10
        inflated = r.inflated ?? bytes
        fileSize = bytes.count
    }

    static func parse(_ bytes: [UInt8], path: String, complete: Bool) throws -> Parsed {
        var part10 = false
        var start = 0
        if bytes.count >= 132 && bytes[128] == 0x44 && bytes[129] == 0x49 && bytes[130] == 0x43 && bytes[131] == 0x4D {
            part10 = true
            start = 132
        } else if bytes.count < 132 && !complete {
            throw DICOMParser.NeedMoreData()
        }
        var meta = DICOMDataset()
        // Group 0002 is always explicit VR little endian (PS3.10 §7.1); also accepted without preamble.
        if bytes.count >= start + 8 && bytes[start] == 0x02 && bytes[start + 1] == 0x00 {
            var p = DICOMParser(bytes: bytes, path: path, isComplete: complete, explicitVR: true, order: .little)
            p.pos = start
            while p.pos + 8 <= bytes.count && bytes[p.pos] == 0x02 && bytes[p.pos + 1] == 0x00 {
                let one = try p.dataset(end: try Self.oneElementEnd(&p), depth: 0, untilItemDelimiter: false, stopAtPixelData: false)
                meta.elements.merge(one.elements) { a, _ in a }
            }
            start = p.pos
        } else if part10 {
            // Part 10 without group 0002: lenient, sniff below.
        }
        let tsUID = meta.string(.transferSyntaxUID)
        var ts: TransferSyntax
        if let uid = tsUID {
            guard let t = TransferSyntax.lookup(uid) else {
                throw DICOMError.unsupportedTransferSyntax(path: path, uid: uid, name: "not a transfer syntax UID")
            }
            ts = t
        } else {
            guard let sniffed = sniff(bytes, at: start) else { throw DICOMError.notDICOM(path: path) }
            ts = sniffed
        }
        var body = bytes
        var base = 0
        var inflated: [UInt8]? = nil
        if ts.isDeflated {
            if !complete { throw DICOMParser.NeedMoreData() }
            body = try DICOMInflate.raw(Array(bytes[start...]), path: path, at: start)
            inflated = body
            start = 0
            base = 0
        }
        var p = DICOMParser(bytes: body, path: path, isComplete: complete || ts.isDeflated, base: base,
                            explicitVR: ts.isExplicitVR, order: ts.byteOrder)
        p.pos = start
        let ds = try p.dataset(end: body.count, depth: 0, untilItemDelimiter: false, stopAtPixelData: true)
        if p.pixelData == nil && !complete { throw DICOMParser.NeedMoreData() }
        if !part10 && meta.elements.isEmpty && ds.elements.count < 2 { throw DICOMError.notDICOM(path: path) }
        return Parsed(meta: meta, dataset: ds, ts: ts, pixel: p.pixelData, part10: part10, inflated: inflated)
    }

    /// End offset of the next single element (so group 0002 can be read one element at a time).
    static func oneElementEnd(_ p: inout DICOMParser) throws -> Int {
        var q = p
        let (_, vr, len) = try q.header()
        if len == DICOMParser.undefinedLength || vr == .SQ {
            throw DICOMError.malformed(path: p.path, offset: p.pos, reason: "sequence in file meta information")
        }
        let end = q.pos + Int(len)
        try q.need(Int(len), "file meta element")
        return end
    }

    /// Guesses the encoding of a data set without meta information: the first element's group must
    /// be a plausible one (0x0002...0x0030) and its length must fit.
    static func sniff(_ b: [UInt8], at s: Int) -> TransferSyntax? {
        guard b.count >= s + 8 else { return nil }
        let gLE = UInt16(b[s]) | UInt16(b[s + 1]) << 8
        let gBE = UInt16(b[s]) << 8 | UInt16(b[s + 1])
        let validVR = VR(bytes: b[s + 4], b[s + 5]) != nil
        if gLE >= 0x0002 && gLE <= 0x0030 && gLE % 2 == 0 {
            if validVR { return .explicitVRLittleEndian }
            let len = Int(UInt32(b[s + 4]) | UInt32(b[s + 5]) << 8 | UInt32(b[s + 6]) << 16 | UInt32(b[s + 7]) << 24)
            guard len <= b.count || len < 1 << 20 else { return nil }
            return .implicitVRLittleEndian
        }
        if gBE >= 0x0002 && gBE <= 0x0030 && gBE % 2 == 0 && validVR { return TransferSyntax.lookup(TransferSyntax.explicitVRBigEndianUID) }
        return nil
    }

    /// True when this is a DICOMDIR (Media Storage Directory, PS3.10 §8), not an image.
    public var isDICOMDIR: Bool {
        (meta.string(.mediaStorageSOPClassUID) ?? dataset.string(.sopClassUID)) == "1.2.840.10008.1.3.10"
    }

    /// The raw bytes of the pixel data value. For encapsulated data (undefined length) this is
    /// every item up to and including the sequence delimiter.
    public func readPixelBytes() throws -> [UInt8] {
        guard let loc = pixelData else { throw DICOMError.missingPixelData(path: path) }
        if let inflated {
            let end = loc.length.map { loc.offset + $0 } ?? inflated.count
            guard end <= inflated.count else {
                throw DICOMError.pixelDataTooShort(path: path, expected: end - loc.offset, actual: inflated.count - loc.offset)
            }
            return Array(inflated[loc.offset..<end])
        }
        let count = loc.length ?? (fileSize - loc.offset)
        guard loc.offset + count <= fileSize else {
            throw DICOMError.pixelDataTooShort(path: path, expected: count, actual: max(0, fileSize - loc.offset))
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        return try Self.pread(fd: fd, path: path, offset: loc.offset, count: count)
    }

    /// Reads `count` bytes at `offset` into `dst` (native pixel data straight into a caller's buffer).
    func readPixelBytes(offset: Int, count: Int, into dst: UnsafeMutableRawPointer) throws {
        guard let loc = pixelData else { throw DICOMError.missingPixelData(path: path) }
        let total = loc.length ?? 0
        guard offset >= 0, count >= 0, offset + count <= total else {
            throw DICOMError.pixelDataTooShort(path: path, expected: offset + count, actual: total)
        }
        if let inflated {
            guard loc.offset + offset + count <= inflated.count else {
                throw DICOMError.pixelDataTooShort(path: path, expected: offset + count, actual: inflated.count - loc.offset)
            }
            inflated.withUnsafeBytes { src in
                dst.copyMemory(from: src.baseAddress! + loc.offset + offset, byteCount: count)
            }
            return
        }
        guard loc.offset + offset + count <= fileSize else {
            throw DICOMError.pixelDataTooShort(path: path, expected: offset + count, actual: max(0, fileSize - loc.offset))
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var done = 0
        while done < count {
            let n = Glibc.pread(fd, dst + done, count - done, off_t(loc.offset + offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw DICOMError.pixelDataTooShort(path: path, expected: offset + count, actual: done)
            }
            done += n
        }
    }

    static func pread(fd: Int32, path: String, offset: Int, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        try out.withUnsafeMutableBytes { buf in
            while done < count {
                let n = Glibc.pread(fd, buf.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
                if n == 0 { break }
                done += n
            }
        }
        if done < count { out.removeLast(count - done) }
        return out
    }
}
