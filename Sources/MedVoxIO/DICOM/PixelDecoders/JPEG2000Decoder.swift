import COpenJPEG

/// JPEG 2000 Lossless (1.2.840.10008.1.2.4.90) and lossy (1.2.840.10008.1.2.4.91), ISO/IEC 15444-1,
/// through OpenJPEG.
///
/// High-Throughput JPEG 2000 (1.2.840.10008.1.2.4.201/.202/.203, ISO/IEC 15444-15) is refused for
/// now, and so is any code-stream whose headers announce HT code-blocks (a CAP marker, or the HT
/// bit of a COD/COC code-block style, in the main or a tile-part header): Debian's libopenjp2
/// 2.5.0 is built with assertions, and a malformed HT code-block aborts the whole process in
/// `mel_init` (an upstream OpenJPEG bug; input in Fixtures/fuzz-regressions). The HT decode path
/// stays in this file (`htj2kTransferSyntaxUIDs`) for when it can run isolated.
///
/// Accepts a raw codestream (what DICOM requires) or a JP2 file. Colour transforms signalled in
/// the codestream (RCT, ICT) are undone by OpenJPEG, so YBR_RCT / YBR_ICT frames come back as RGB.
public enum JPEG2000Decoder: PixelDecoder {
    public static let transferSyntaxUIDs = [EncapsulatedTransferSyntax.jpeg2000Lossless,
                                            EncapsulatedTransferSyntax.jpeg2000]
    /// HTJ2K syntaxes OpenJPEG could decode, not registered (see above).
    public static let htj2kTransferSyntaxUIDs = [EncapsulatedTransferSyntax.htj2kLossless,
                                                 EncapsulatedTransferSyntax.htj2kLosslessRPCL,
                                                 EncapsulatedTransferSyntax.htj2k]
    static let codec = "JPEG 2000"

    /// The read position in the frame, shared with OpenJPEG's stream callbacks.
    final class Source {
        let base: UnsafePointer<UInt8>
        let count: Int
        var position = 0
        var lastError = ""
        init(base: UnsafePointer<UInt8>, count: Int) { self.base = base; self.count = count }
    }

    public static func decode(_ frame: [UInt8], info: PixelFrameInfo) throws -> DecodedFrame {
        try info.validate(codec: codec)
        guard frame.count >= 12 else {
            throw PixelDecodingError.truncated(codec: codec, reason: "\(frame.count) bytes")
        }
        let format: OPJ_CODEC_FORMAT
        if frame[0] == 0xFF && frame[1] == 0x4F {
            format = OPJ_CODEC_J2K
        } else if frame[4...7] == [0x6A, 0x50, 0x20, 0x20] {
            format = OPJ_CODEC_JP2
        } else {
            throw PixelDecodingError.corrupt(codec: codec, reason: "neither a J2K codestream (FF4F) nor a JP2 file")
        }
        try checkSize(frame, info: info)
        if try announcesHTCodeBlocks(frame) {
            throw PixelDecodingError.unsupported(
                codec: codec, reason: "High-Throughput (HT) code-blocks are not decoded (OpenJPEG 2.5.0 can abort on malformed ones)")
        }
        return try frame.withUnsafeBufferPointer { buf in
            let source = Source(base: buf.baseAddress!, count: buf.count)
            let context = Unmanaged.passUnretained(source).toOpaque()
            guard let codecHandle = opj_create_decompress(format) else {
                throw PixelDecodingError.unsupported(codec: codec, reason: "OpenJPEG could not create a decoder")
            }
            defer { opj_destroy_codec(codecHandle) }
            opj_set_error_handler(codecHandle, { msg, data in
                guard let msg, let data else { return }
                let s = Unmanaged<Source>.fromOpaque(data).takeUnretainedValue()
                if s.lastError.isEmpty { s.lastError = String(cString: msg).trimmingNewlines() }
            }, context)
            var parameters = opj_dparameters_t()
            opj_set_default_decoder_parameters(&parameters)
            guard opj_setup_decoder(codecHandle, &parameters) != 0 else {
                throw PixelDecodingError.unsupported(codec: codec, reason: "OpenJPEG rejected the decoder parameters")
            }
            guard let stream = makeStream(context, length: buf.count) else {
                throw PixelDecodingError.unsupported(codec: codec, reason: "OpenJPEG could not create a stream")
            }
            defer { opj_stream_destroy(stream) }
            func failure(_ what: String) -> PixelDecodingError {
                .corrupt(codec: codec, reason: "OpenJPEG \(what): \(source.lastError.isEmpty ? "failed" : source.lastError)")
            }
            var imagePointer: UnsafeMutablePointer<opj_image_t>?
            guard opj_read_header(stream, codecHandle, &imagePointer) != 0, let image = imagePointer else {
                throw failure("header")
            }
            defer { opj_image_destroy(image) }
            try checkHeader(image.pointee, info: info)
            guard opj_decode(codecHandle, stream, image) != 0, opj_end_decompress(codecHandle, stream) != 0 else {
                throw failure("decode")
            }
            return try withExtendedLifetime(source) { try output(image.pointee, info: info) }
        }
    }

    static func makeStream(_ context: UnsafeMutableRawPointer, length: Int) -> UnsafeMutablePointer<opj_stream_t?>? {
        guard let stream = opj_stream_create(1 << 16, 1) else { return nil }
        opj_stream_set_user_data(stream, context, nil)
        opj_stream_set_user_data_length(stream, UInt64(length))
        opj_stream_set_read_function(stream) { buffer, n, data in
            let s = Unmanaged<Source>.fromOpaque(data!).takeUnretainedValue()
            let available = s.count - s.position
            guard available > 0, let buffer else { return -1 }  // (OPJ_SIZE_T)-1, end of stream (Swift imports size_t as Int)
            let k = min(Int(n), available)
            buffer.copyMemory(from: s.base + s.position, byteCount: k)
            s.position += k
            return OPJ_SIZE_T(k)
        }
        opj_stream_set_skip_function(stream) { n, data in
            let s = Unmanaged<Source>.fromOpaque(data!).takeUnretainedValue()
            let target = s.position + Int(n)
            guard target >= 0, target <= s.count else { return -1 }  // OpenJPEG's "cannot skip"
            s.position = target
            return n
        }
        opj_stream_set_seek_function(stream) { n, data in
            let s = Unmanaged<Source>.fromOpaque(data!).takeUnretainedValue()
            guard n >= 0, Int(n) <= s.count else { return 0 }
            s.position = Int(n)
            return 1
        }
        return stream
    }

    static func checkHeader(_ image: opj_image_t, info: PixelFrameInfo) throws {
        let width = Int(image.x1) - Int(image.x0), height = Int(image.y1) - Int(image.y0)
        guard width == info.columns else {
            throw PixelDecodingError.mismatch(codec: codec, field: "columns", expected: info.columns, actual: width)
        }
        guard height == info.rows else {
            throw PixelDecodingError.mismatch(codec: codec, field: "rows", expected: info.rows, actual: height)
        }
        guard Int(image.numcomps) == info.samplesPerPixel, let comps = image.comps else {
            throw PixelDecodingError.mismatch(codec: codec, field: "components", expected: info.samplesPerPixel, actual: Int(image.numcomps))
        }
        for c in 0..<Int(image.numcomps) {
            let comp = comps[c]
            guard comp.dx == 1, comp.dy == 1 else {
                throw PixelDecodingError.unsupported(codec: codec, reason: "component \(c + 1) subsampled \(comp.dx)×\(comp.dy)")
            }
            guard comp.prec >= 1, Int(comp.prec) <= info.bitsAllocated, comp.prec <= 31 else {
                throw PixelDecodingError.mismatch(codec: codec, field: "precision", expected: info.bitsStored, actual: Int(comp.prec))
            }
        }
    }

    /// OpenJPEG's Int32 planes → interleaved little-endian samples masked to BitsStored.
    static func output(_ image: opj_image_t, info: PixelFrameInfo) throws -> DecodedFrame {
        let pixels = info.rows * info.columns, spp = info.samplesPerPixel
        let mask = UInt32(truncatingIfNeeded: (UInt64(1) << info.bitsStored) - 1)
        var out = [UInt8](repeating: 0, count: info.decodedByteCount)
        for c in 0..<spp {
            let comp = image.comps[c]
            guard let data = comp.data, Int(comp.w) * Int(comp.h) == pixels else {
                throw PixelDecodingError.corrupt(codec: codec, reason: "component \(c + 1) was not decoded in full")
            }
            out.withUnsafeMutableBytes { o in
                switch info.bytesPerSample {
                case 1:
                    let d = o.bindMemory(to: UInt8.self)
                    for i in 0..<pixels { d[i * spp + c] = UInt8(truncatingIfNeeded: UInt32(bitPattern: data[i]) & mask) }
                case 2:
                    let d = o.bindMemory(to: UInt16.self)
                    for i in 0..<pixels { d[i * spp + c] = UInt16(truncatingIfNeeded: UInt32(bitPattern: data[i]) & mask).littleEndian }
                default:
                    let d = o.bindMemory(to: UInt32.self)
                    for i in 0..<pixels { d[i * spp + c] = (UInt32(bitPattern: data[i]) & mask).littleEndian }
                }
            }
        }
        var pi = info.photometricInterpretation
        if spp == 3, pi == "YBR_RCT" || pi == "YBR_ICT" { pi = "RGB" }
        return DecodedFrame(bytes: out, photometricInterpretation: pi)
    }
}

extension String {
    func trimmingNewlines() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}

extension JPEG2000Decoder {
    static func bad(_ r: String) -> PixelDecodingError { .corrupt(codec: codec, reason: r) }

    static func u16(_ frame: [UInt8], _ i: Int) throws -> Int {
        guard i >= 0, i + 2 <= frame.count else { throw bad("header runs past the end of the frame") }
        return Int(frame[i]) << 8 | Int(frame[i + 1])
    }

    static func u32(_ frame: [UInt8], _ i: Int) throws -> Int { try u16(frame, i) << 16 | u16(frame, i + 2) }

    /// Offset of the code-stream's SOC marker: 0 for a raw code-stream, else the contents of the
    /// JP2 file's `jp2c` box.
    static func codestreamStart(_ frame: [UInt8]) throws -> Int {
        func u16(_ i: Int) throws -> Int { try Self.u16(frame, i) }
        func u32(_ i: Int) throws -> Int { try Self.u32(frame, i) }
        var start = 0
        if !(frame.count >= 2 && frame[0] == 0xFF && frame[1] == 0x4F) {
            var box = 0
            start = -1
            while box + 8 <= frame.count {
                var length = try u32(box)
                let type = try u32(box + 4)
                var header = 8
                if length == 1 {
                    guard box + 16 <= frame.count else { throw bad("JP2 box header runs past the end") }
                    length = try u32(box + 8) << 32 | u32(box + 12)
                    header = 16
                } else if length == 0 {
                    length = frame.count - box
                }
                guard length >= header else { throw bad("JP2 box of length \(length)") }
                if type == 0x6A70_3263 {  // 'jp2c'
                    start = box + header
                    break
                }
                guard length <= frame.count - box else { throw bad("JP2 box runs past the end") }
                box += length
            }
            guard start >= 0 else { throw bad("JP2 file without a code-stream box") }
        }
        return start
    }

    /// Checks the SIZ segment against the data set's Image Pixel module before OpenJPEG allocates
    /// anything: image size (Xsiz − XOsiz, Ysiz − YOsiz) = columns × rows, Csiz = samples per pixel,
    /// non-zero tile sizes and at most one tile per pixel. A code-stream claiming a far larger
    /// image would make OpenJPEG allocate for that size (found by the fuzzer: 191 bytes, > 1 GB).
    static func checkSize(_ frame: [UInt8], info: PixelFrameInfo) throws {
        let siz = try codestreamStart(frame) + 2
        guard try u16(frame, siz) == 0xFF51 else { throw bad("code-stream without SIZ") }
        let x = try u32(frame, siz + 6), y = try u32(frame, siz + 10)
        let x0 = try u32(frame, siz + 14), y0 = try u32(frame, siz + 18)
        let tx = try u32(frame, siz + 22), ty = try u32(frame, siz + 26)
        let tx0 = try u32(frame, siz + 30), ty0 = try u32(frame, siz + 34)
        let components = try u16(frame, siz + 38)
        guard x > x0, y > y0 else { throw bad("empty image area in SIZ") }
        guard x - x0 == info.columns else { throw PixelDecodingError.mismatch(codec: codec, field: "columns", expected: info.columns, actual: x - x0) }
        guard y - y0 == info.rows else { throw PixelDecodingError.mismatch(codec: codec, field: "rows", expected: info.rows, actual: y - y0) }
        guard components == info.samplesPerPixel else {
            throw PixelDecodingError.mismatch(codec: codec, field: "samples per pixel", expected: info.samplesPerPixel, actual: components)
        }
        guard tx > 0, ty > 0, tx0 <= x0, ty0 <= y0 else { throw bad("invalid tile grid in SIZ") }
        let tilesX = (x - tx0 + tx - 1) / tx, tilesY = (y - ty0 + ty - 1) / ty
        guard tilesX * tilesY <= info.rows * info.columns else { throw bad("\(tilesX)×\(tilesY) tiles for a \(info.columns)×\(info.rows) image") }
    }

    /// True when the code-stream (raw, or inside a JP2 file's `jp2c` box) announces HT code-blocks:
    /// a CAP marker (FF50) in the main header, or bit 6 of the code-block style of a COD (FF52) or
    /// COC (FF53) segment in the main header or any tile-part header (ISO/IEC 15444-15 A.2, A.3).
    /// Walks marker segments and tile-parts by their lengths only; throws on a malformed header.
    static func announcesHTCodeBlocks(_ frame: [UInt8]) throws -> Bool {
        func u16(_ i: Int) throws -> Int { try Self.u16(frame, i) }
        func u32(_ i: Int) throws -> Int { try Self.u32(frame, i) }
        let start = try codestreamStart(frame)
        guard try u16(start) == 0xFF4F, try u16(start + 2) == 0xFF51 else { throw bad("code-stream without SOC/SIZ") }
        let components = try u16(start + 2 + 2 + 36)  // Csiz: after Lsiz, Rsiz and eight 32-bit fields
        let componentBytes = components < 257 ? 1 : 2
        /// Scans one header's marker segments from `i` until `end` marker; returns its position.
        func scanHeader(from i0: Int, until end: Int) throws -> (position: Int, ht: Bool) {
            var i = i0
            while true {
                let marker = try u16(i)
                if marker == end { return (i, false) }
                guard marker >= 0xFF00 else { throw bad("marker expected at byte \(i)") }
                let length = try u16(i + 2)
                guard length >= 2 else { throw bad("marker segment of length \(length)") }
                switch marker {
                case 0xFF50: return (i, true)  // CAP
                case 0xFF52:  // COD: Lcod Scod SGcod(4) levels xcb ycb style
                    if try u16(i + 12 - 1) & 0x40 != 0 { return (i, true) }
                case 0xFF53:  // COC: Lcoc Ccoc Scoc levels xcb ycb style
                    if try u16(i + 4 + componentBytes + 4 - 1) & 0x40 != 0 { return (i, true) }
                default: break
                }
                i += 2 + length
            }
        }
        var (i, ht) = try scanHeader(from: start + 2, until: 0xFF90)  // main header, up to the first SOT
        if ht { return true }
        // Tile-parts: SOT (Lsot Isot Psot TPsot TNsot), header up to SOD, data to SOT + Psot.
        while i + 2 <= frame.count, try u16(i) == 0xFF90 {
            let psot = try u32(i + 6)
            (_, ht) = try scanHeader(from: i + 12, until: 0xFF93)
            if ht { return true }
            guard psot > 0 else { break }  // the last tile-part runs to EOC
            i += psot
        }
        return false
    }
}
