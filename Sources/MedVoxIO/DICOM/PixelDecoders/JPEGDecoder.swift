import CJPEG

/// JPEG Baseline (process 1, 1.2.840.10008.1.2.4.50) and Extended (processes 2 & 4,
/// 1.2.840.10008.1.2.4.51), ITU-T T.81; also the retired spectral-selection (.53) and progressive
/// (.55) syntaxes when 8-bit.
///
/// 8-bit streams (baseline, extended, progressive) go to libjpeg-turbo through its TurboJPEG API;
/// colour streams come back as RGB (libjpeg's YCbCr → RGB, fancy upsampling, accurate integer
/// IDCT — what dcmtk's `dcmdjpeg` does). Debian's libjpeg62-turbo has no 12-bit support, so 12-bit
/// sequential Huffman streams (the CT/MR case: one component) use MedVox's native decoder
/// `JPEGSequentialDCT`, which reproduces IJG's `jpeg_idct_islow` exactly. A lossless (SOF3)
/// stream mislabelled with one of these UIDs is decoded by `JPEGLosslessDecoder`.
public enum JPEGDecoder: PixelDecoder {
    public static let transferSyntaxUIDs = [EncapsulatedTransferSyntax.jpegBaseline,
                                            EncapsulatedTransferSyntax.jpegExtended,
                                            EncapsulatedTransferSyntax.jpegSpectralSelection,
                                            EncapsulatedTransferSyntax.jpegFullProgression]
    static let codec = "JPEG"

    public static func decode(_ frame: [UInt8], info: PixelFrameInfo) throws -> DecodedFrame {
        try info.validate(codec: codec)
        var parser = try JPEGParser(frame, codec: codec)
        guard let scan = try parser.nextScan() else { throw PixelDecodingError.corrupt(codec: codec, reason: "no scan") }
        let header = try parser.checkFrame(against: info)
        if header.marker == 0xC3 {
            let samples = try JPEGLosslessDecoder.decodeSamples(&parser, firstScan: scan, frame: header, info: info)
            return DecodedFrame(bytes: JPEGLosslessDecoder.pack(samples, info: info),
                                photometricInterpretation: info.photometricInterpretation)
        }
        if header.precision == 8 {
            return try decodeWithLibjpegTurbo(frame, info: info)
        }
        let samples = try JPEGSequentialDCT.decode(&parser, firstScan: scan, frame: header, info: info)
        return DecodedFrame(bytes: JPEGLosslessDecoder.pack(samples, info: info),
                            photometricInterpretation: info.photometricInterpretation)
    }

    /// Decodes an 8-bit stream with TurboJPEG into grey or RGB samples.
    static func decodeWithLibjpegTurbo(_ frame: [UInt8], info: PixelFrameInfo) throws -> DecodedFrame {
        guard let handle = tjInitDecompress() else {
            throw PixelDecodingError.unsupported(codec: codec, reason: "libjpeg-turbo could not start a decompressor")
        }
        defer { tjDestroy(handle) }
        func failure(_ what: String) -> PixelDecodingError {
            let message = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
            return .corrupt(codec: codec, reason: "libjpeg-turbo \(what): \(message)")
        }
        var width: Int32 = 0, height: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        let headerOK = frame.withUnsafeBufferPointer {
            tjDecompressHeader3(handle, $0.baseAddress, UInt($0.count), &width, &height, &subsamp, &colorspace)
        }
        guard headerOK == 0 else { throw failure("header") }
        guard Int(width) == info.columns else {
            throw PixelDecodingError.mismatch(codec: codec, field: "columns", expected: info.columns, actual: Int(width))
        }
        guard Int(height) == info.rows else {
            throw PixelDecodingError.mismatch(codec: codec, field: "rows", expected: info.rows, actual: Int(height))
        }
        let grey = info.samplesPerPixel == 1
        if grey != (colorspace == Int32(TJCS_GRAY.rawValue)) {
            throw PixelDecodingError.mismatch(codec: codec, field: "components", expected: info.samplesPerPixel,
                                              actual: colorspace == Int32(TJCS_GRAY.rawValue) ? 1 : 3)
        }
        let pixelFormat = grey ? TJPF_GRAY : TJPF_RGB
        let count = info.rows * info.columns * info.samplesPerPixel
        var samples = [UInt8](repeating: 0, count: count)
        let flags = TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS
        let ok = frame.withUnsafeBufferPointer { src in
            samples.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, src.baseAddress, UInt(src.count), dst.baseAddress, width, 0, height,
                              Int32(pixelFormat.rawValue), Int32(flags))
            }
        }
        guard ok == 0 else { throw failure("decode") }
        let bytes: [UInt8]
        if info.bytesPerSample == 1 {
            bytes = samples
        } else {
            bytes = JPEGLosslessDecoder.pack(samples.map { UInt16($0) }, info: info)
        }
        return DecodedFrame(bytes: bytes, photometricInterpretation: grey ? info.photometricInterpretation : "RGB")
    }
}

/// MedVox's native sequential-DCT Huffman JPEG decoder (T.81 Annex F), for one component of 8 or
/// 12 bits — the plain twin of libjpeg-turbo for 8-bit and the only path for 12-bit.
/// The IDCT is IJG's `jpeg_idct_islow` (jidctint.c) transcribed with its 32-bit arithmetic,
/// shortcuts and range-limit table, so results equal dcmtk's and GDCM's IJG-based decoders.
enum JPEGSequentialDCT {
    static let codec = "JPEG"

    static func decode(_ parser: inout JPEGParser, firstScan: JPEGScanHeader, frame: JPEGFrameHeader,
                       info: PixelFrameInfo) throws -> [UInt16] {
        guard frame.marker == 0xC0 || frame.marker == 0xC1 else {
            throw PixelDecodingError.unsupported(codec: codec,
                reason: "\(frame.precision)-bit frame type SOF\(frame.marker - 0xC0) (only sequential Huffman is decoded natively)")
        }
        guard frame.precision == 12 || frame.precision == 8 else {
            throw PixelDecodingError.corrupt(codec: codec, reason: "sample precision \(frame.precision)")
        }
        guard frame.components.count == 1 else {
            throw PixelDecodingError.unsupported(codec: codec, reason: "\(frame.precision)-bit colour JPEG")
        }
        let scan = firstScan
        guard scan.components.count == 1, scan.ss == 0, scan.se == 63, scan.ah == 0, scan.al == 0 else {
            throw PixelDecodingError.corrupt(codec: codec, reason: "sequential scan with spectral selection \(scan.ss)…\(scan.se)")
        }
        let comp = frame.components[0], sc = scan.components[0]
        guard let q = parser.quantTables[comp.quantTable] else {
            throw PixelDecodingError.corrupt(codec: codec, reason: "undefined quantization table \(comp.quantTable)")
        }
        guard let dc = parser.dcTables[sc.dcTable], let ac = parser.acTables[sc.acTable] else {
            throw PixelDecodingError.corrupt(codec: codec, reason: "undefined Huffman table")
        }
        let width = info.columns, height = info.rows
        let blocksWide = (width + 7) / 8, blocksHigh = (height + 7) / 8
        var out = [UInt16](repeating: 0, count: width * height)
        let limits = RangeLimit(precision: frame.precision)
        let bytes = parser.data
        var position = parser.position
        let restartInterval = parser.restartInterval
        try bytes.withUnsafeBufferPointer { data in
            var reader = JPEGBitReader(data, position: position)
            var tables = [dc, ac]
            var coef = [Int32](repeating: 0, count: 64)
            var block = [UInt16](repeating: 0, count: 64)
            var workspace = [Int32](repeating: 0, count: 64)
            try tables.withUnsafeMutableBufferPointer { t in
            try coef.withUnsafeMutableBufferPointer { c in
            try block.withUnsafeMutableBufferPointer { blk in
            try workspace.withUnsafeMutableBufferPointer { ws in
            try q.withUnsafeBufferPointer { qt in
            try out.withUnsafeMutableBufferPointer { o in
                var pred: Int32 = 0
                var restarts = JPEGRestartCounter(interval: restartInterval)
                for by in 0..<blocksHigh {
                    for bx in 0..<blocksWide {
                        if try restarts.next(&reader, codec: codec, ifTruncated: truncated(by)) { pred = 0 }
                        for i in 0..<64 { c[i] = 0 }
                        guard let s = reader.decode(t.baseAddress!), s <= 15 else { throw badCode(by) }
                        // Coefficients are 16-bit (JCOEF) in IJG.
                        pred = Int32(Int16(truncatingIfNeeded: Int(pred) + (s == 0 ? 0 : reader.receiveExtend(s))))
                        c[0] = pred
                        var k = 1
                        while k < 64 {
                            guard let rs = reader.decode(t.baseAddress! + 1) else { throw badCode(by) }
                            let r = rs >> 4, s = rs & 15
                            if s != 0 {
                                k += r
                                guard k < 64 else { throw PixelDecodingError.corrupt(codec: codec, reason: "AC coefficients past 63 in block row \(by + 1)") }
                                c[JPEGZigzag.natural[k]] = Int32(Int16(truncatingIfNeeded: reader.receiveExtend(s)))
                                k += 1
                            } else if r == 15 {
                                k += 16
                            } else {
                                break
                            }
                        }
                        idctIslow(c.baseAddress!, qt.baseAddress!, ws.baseAddress!, blk.baseAddress!, limits)
                        let x0 = bx * 8, y0 = by * 8
                        for yy in 0..<min(8, height - y0) {
                            for xx in 0..<min(8, width - x0) { o[(y0 + yy) * width + x0 + xx] = blk[yy * 8 + xx] }
                        }
                    }
                }
                if reader.overran { throw truncated(blocksHigh - 1) }
            }}}}}}
            position = reader.position
        }
        parser.position = position
        return out
    }

    static func truncated(_ row: Int) -> PixelDecodingError {
        .truncated(codec: codec, reason: "entropy-coded data ends in block row \(row + 1)")
    }
    static func badCode(_ row: Int) -> PixelDecodingError {
        .corrupt(codec: codec, reason: "bad Huffman code in block row \(row + 1)")
    }

    /// IJG's post-IDCT range limiting (jdmaster.c prepare_range_limit_table): the descaled value,
    /// masked to RANGE_MASK and read as signed, plus CENTERJSAMPLE, clamped to 0…MAXJSAMPLE.
    struct RangeLimit {
        let pass1Bits: Int32, maxSample: Int32, center: Int32, rangeMask: Int32
        init(precision: Int) {
            pass1Bits = precision == 8 ? 2 : 1
            maxSample = (1 << Int32(precision)) - 1
            center = 1 << Int32(precision - 1)
            rangeMask = maxSample * 4 + 3
        }
        @inline(__always) func callAsFunction(_ x: Int32) -> UInt16 {
            var m = x & rangeMask
            if m > 2 * maxSample + 1 { m -= rangeMask + 1 }
            return UInt16(min(max(m + center, 0), maxSample))
        }
    }

    // jidctint.c constants (CONST_BITS = 13).
    static let constBits: Int32 = 13
    static let fix_0_298631336: Int32 = 2446, fix_0_390180644: Int32 = 3196, fix_0_541196100: Int32 = 4433
    static let fix_0_765366865: Int32 = 6270, fix_0_899976223: Int32 = 7373, fix_1_175875602: Int32 = 9633
    static let fix_1_501321110: Int32 = 12299, fix_1_847759065: Int32 = 15137, fix_1_961570560: Int32 = 16069
    static let fix_2_053119869: Int32 = 16819, fix_2_562915447: Int32 = 20995, fix_3_072711026: Int32 = 25172

    @inline(__always) static func descale(_ x: Int32, _ n: Int32) -> Int32 { (x &+ (1 &<< (n - 1))) >> n }

    /// The odd part shared by both passes: returns (tmp0, tmp1, tmp2, tmp3).
    @inline(__always)
    static func oddPart(_ i7: Int32, _ i5: Int32, _ i3: Int32, _ i1: Int32) -> (Int32, Int32, Int32, Int32) {
        var tmp0 = i7, tmp1 = i5, tmp2 = i3, tmp3 = i1
        var z1 = tmp0 &+ tmp3, z2 = tmp1 &+ tmp2, z3 = tmp0 &+ tmp2, z4 = tmp1 &+ tmp3
        let z5 = (z3 &+ z4) &* fix_1_175875602
        tmp0 = tmp0 &* fix_0_298631336
        tmp1 = tmp1 &* fix_2_053119869
        tmp2 = tmp2 &* fix_3_072711026
        tmp3 = tmp3 &* fix_1_501321110
        z1 = z1 &* -fix_0_899976223
        z2 = z2 &* -fix_2_562915447
        z3 = z3 &* -fix_1_961570560
        z4 = z4 &* -fix_0_390180644
        z3 = z3 &+ z5
        z4 = z4 &+ z5
        return (tmp0 &+ z1 &+ z3, tmp1 &+ z2 &+ z4, tmp2 &+ z2 &+ z3, tmp3 &+ z1 &+ z4)
    }

    /// The even part shared by both passes: returns (tmp10, tmp11, tmp12, tmp13).
    @inline(__always)
    static func evenPart(_ i0: Int32, _ i2: Int32, _ i4: Int32, _ i6: Int32) -> (Int32, Int32, Int32, Int32) {
        let z1 = (i2 &+ i6) &* fix_0_541196100
        let tmp2 = z1 &+ i6 &* -fix_1_847759065
        let tmp3 = z1 &+ i2 &* fix_0_765366865
        let tmp0 = (i0 &+ i4) &<< constBits
        let tmp1 = (i0 &- i4) &<< constBits
        return (tmp0 &+ tmp3, tmp1 &+ tmp2, tmp1 &- tmp2, tmp0 &- tmp3)
    }

    /// IJG jpeg_idct_islow: dequantizes `coef` (natural order) with `quant`, writes 64 samples.
    static func idctIslow(_ coef: UnsafePointer<Int32>, _ quant: UnsafePointer<Int32>, _ ws: UnsafeMutablePointer<Int32>,
                          _ out: UnsafeMutablePointer<UInt16>, _ limit: RangeLimit) {
        let pass1 = limit.pass1Bits
        // Pass 1: columns from input into the work array.
        for col in 0..<8 {
            let i = coef + col, q = quant + col, w = ws + col
            if i[8] == 0 && i[16] == 0 && i[24] == 0 && i[32] == 0 && i[40] == 0 && i[48] == 0 && i[56] == 0 {
                let dcval = (i[0] &* q[0]) &<< pass1
                for r in 0..<8 { w[r * 8] = dcval }
                continue
            }
            let (t10, t11, t12, t13) = evenPart(i[0] &* q[0], i[16] &* q[16], i[32] &* q[32], i[48] &* q[48])
            let (t0, t1, t2, t3) = oddPart(i[56] &* q[56], i[40] &* q[40], i[24] &* q[24], i[8] &* q[8])
            let s = constBits - pass1
            w[0] = descale(t10 &+ t3, s); w[56] = descale(t10 &- t3, s)
            w[8] = descale(t11 &+ t2, s); w[48] = descale(t11 &- t2, s)
            w[16] = descale(t12 &+ t1, s); w[40] = descale(t12 &- t1, s)
            w[24] = descale(t13 &+ t0, s); w[32] = descale(t13 &- t0, s)
        }
        // Pass 2: rows from the work array into samples.
        for row in 0..<8 {
            let w = ws + row * 8, o = out + row * 8
            if w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0 {
                let v = limit(descale(w[0], pass1 + 3))
                for c in 0..<8 { o[c] = v }
                continue
            }
            let (t10, t11, t12, t13) = evenPart(w[0], w[2], w[4], w[6])
            let (t0, t1, t2, t3) = oddPart(w[7], w[5], w[3], w[1])
            let s = constBits + pass1 + 3
            o[0] = limit(descale(t10 &+ t3, s)); o[7] = limit(descale(t10 &- t3, s))
            o[1] = limit(descale(t11 &+ t2, s)); o[6] = limit(descale(t11 &- t2, s))
            o[2] = limit(descale(t12 &+ t1, s)); o[5] = limit(descale(t12 &- t1, s))
            o[3] = limit(descale(t13 &+ t0, s)); o[4] = limit(descale(t13 &- t0, s))
        }
    }
}
