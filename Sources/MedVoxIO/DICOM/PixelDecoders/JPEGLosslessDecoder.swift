/// JPEG Lossless, Non-Hierarchical (process 14), native Swift: DICOM 1.2.840.10008.1.2.4.57
/// (any predictor) and 1.2.840.10008.1.2.4.70 (selection value 1), ITU-T T.81 Annex H.
///
/// Supports precision 2–16, predictors 1–7, point transform, restart intervals, 1–4 components
/// in interleaved or separate scans (all sampling factors 1×1, as DICOM requires).
public enum JPEGLosslessDecoder: PixelDecoder {
    public static let transferSyntaxUIDs = [EncapsulatedTransferSyntax.jpegLossless,
                                            EncapsulatedTransferSyntax.jpegLosslessSV1]
    static let codec = "JPEG Lossless"

    public static func decode(_ frame: [UInt8], info: PixelFrameInfo) throws -> DecodedFrame {
        try info.validate(codec: codec)
        var parser = try JPEGParser(frame, codec: codec)
        guard let first = try parser.nextScan() else { throw PixelDecodingError.corrupt(codec: codec, reason: "no scan") }
        let header = try parser.checkFrame(against: info)
        guard header.marker == 0xC3 else {
            throw PixelDecodingError.unsupported(codec: codec, reason: "frame type SOF\(header.marker - 0xC0), not lossless SOF3")
        }
        let samples = try decodeSamples(&parser, firstScan: first, frame: header, info: info)
        return DecodedFrame(bytes: pack(samples, info: info), photometricInterpretation: info.photometricInterpretation)
    }

    /// Decodes every scan of a lossless frame into interleaved samples (already shifted by the
    /// point transform, not yet masked to BitsStored).
    static func decodeSamples(_ parser: inout JPEGParser, firstScan: JPEGScanHeader,
                              frame: JPEGFrameHeader, info: PixelFrameInfo, fastPath: Bool = true) throws -> [UInt16] {
        guard (2...16).contains(frame.precision) else {
            throw PixelDecodingError.corrupt(codec: codec, reason: "sample precision \(frame.precision)")
        }
        guard frame.components.allSatisfy({ $0.h == 1 && $0.v == 1 }) else {
            throw PixelDecodingError.unsupported(codec: codec, reason: "subsampled components")
        }
        let width = info.columns, height = info.rows, nc = frame.components.count
        var samples = [UInt16](repeating: 0, count: width * height * nc)
        var done = [Bool](repeating: false, count: nc)
        var scan: JPEGScanHeader? = firstScan
        let bytes = parser.data  // shares storage with the parser's copy
        try bytes.withUnsafeBufferPointer { data in
            try samples.withUnsafeMutableBufferPointer { out in
                while let s = scan {
                    try decodeScan(s, parser: &parser, data: data, out: out, width: width, height: height,
                                   nc: nc, precision: frame.precision, fastPath: fastPath)
                    for c in s.components { done[c.index] = true }
                    scan = try parser.nextScan()
                }
            }
        }
        guard done.allSatisfy({ $0 }) else {
            throw PixelDecodingError.truncated(codec: codec, reason: "not every component has a scan")
        }
        return samples
    }

    /// Decodes one scan; `fastPath: false` forces the general loop, the plain twin of `decodeGreyScan`.
    static func decodeScan(_ scan: JPEGScanHeader, parser: inout JPEGParser, data: UnsafeBufferPointer<UInt8>,
                           out: UnsafeMutableBufferPointer<UInt16>, width: Int, height: Int, nc: Int,
                           precision: Int, fastPath: Bool) throws {
        let predictor = scan.ss, pt = scan.al
        guard (1...7).contains(predictor) else {
            throw PixelDecodingError.unsupported(codec: codec, reason: "predictor \(predictor)")
        }
        guard pt < precision else { throw PixelDecodingError.corrupt(codec: codec, reason: "point transform \(pt)") }
        var tables: [JPEGHuffmanTable] = []
        for c in scan.components {
            guard let t = parser.dcTables[c.dcTable] else {
                throw PixelDecodingError.corrupt(codec: codec, reason: "scan uses undefined Huffman table \(c.dcTable)")
            }
            tables.append(t)
        }
        if fastPath && scan.components.count == 1 && nc == 1 {
            try decodeGreyScan(tables[0], predictor: predictor, parser: &parser, data: data, out: out.baseAddress!,
                               width: width, height: height, precision: precision, pt: pt)
            return
        }
        let ns = scan.components.count
        let offsets = scan.components.map { $0.index }
        let initial = 1 << (precision - pt - 1)
        let restartInterval = parser.restartInterval
        var reader = JPEGBitReader(data, position: parser.position)
        var restarts = JPEGRestartCounter(interval: restartInterval)
        var firstLine = true        // first line of the image or of a restart interval
        var resetPending = true     // next sample is the first of an interval
        let rowStride = width * nc
        let base = out.baseAddress!

        try tables.withUnsafeBufferPointer { tp in
            for y in 0..<height {
                let row = base + y * rowStride
                for x in 0..<width {
                    if try restarts.next(&reader, codec: codec, ifTruncated: truncated(y)) {
                        firstLine = true
                        resetPending = true
                    }
                    for k in 0..<ns {
                        let ci = offsets[k]
                        guard let s = reader.decode(tp.baseAddress! + k), s <= 16 else {
                            throw PixelDecodingError.corrupt(codec: codec, reason: "bad Huffman code in line \(y + 1)")
                        }
                        let diff = s == 16 ? 32768 : (s == 0 ? 0 : reader.receiveExtend(s))
                        let p = row + x * nc + ci
                        let pred: Int
                        if resetPending {
                            pred = initial
                        } else if firstLine {
                            pred = Int(p[-nc])
                        } else if x == 0 {
                            pred = Int(p[-rowStride])
                        } else {
                            let ra = Int(p[-nc]), rb = Int(p[-rowStride]), rc = Int(p[-rowStride - nc])
                            switch predictor {
                            case 1: pred = ra
                            case 2: pred = rb
                            case 3: pred = rc
                            case 4: pred = ra + rb - rc
                            case 5: pred = ra + ((rb - rc) >> 1)
                            case 6: pred = rb + ((ra - rc) >> 1)
                            default: pred = (ra + rb) >> 1
                            }
                        }
                        p.pointee = UInt16(truncatingIfNeeded: pred + diff)
                    }
                    resetPending = false
                }
                firstLine = false
            }
        }
        if reader.overran { throw truncated(height - 1) }
        parser.position = reader.position
        if pt > 0 {  // undo the point transform on this scan's components
            for i in 0..<(width * height) {
                for ci in offsets { out[i * nc + ci] = out[i * nc + ci] << UInt16(pt) }
            }
        }
    }

    /// The fast path for one-component frames (CT, MR): one monomorphic loop per predictor.
    static func decodeGreyScan(_ table: JPEGHuffmanTable, predictor: Int, parser: inout JPEGParser,
                               data: UnsafeBufferPointer<UInt8>, out: UnsafeMutablePointer<UInt16>,
                               width: Int, height: Int, precision: Int, pt: Int) throws {
        var reader = JPEGBitReader(data, position: parser.position)
        let restartInterval = parser.restartInterval
        var table = table
        try table.lookup.withUnsafeBufferPointer { lut in
            try withUnsafePointer(to: &table) { t in
                var run = GreyScanRun(lut: lut.baseAddress!, table: t, out: out, width: width, height: height,
                                      initial: 1 << (precision - pt - 1), restartInterval: restartInterval)
                switch predictor {
                case 1: try run.decode(&reader, Predictor1.self)
                case 2: try run.decode(&reader, Predictor2.self)
                case 3: try run.decode(&reader, Predictor3.self)
                case 4: try run.decode(&reader, Predictor4.self)
                case 5: try run.decode(&reader, Predictor5.self)
                case 6: try run.decode(&reader, Predictor6.self)
                default: try run.decode(&reader, Predictor7.self)
                }
            }
        }
        if reader.overran { throw truncated(height - 1) }
        parser.position = reader.position
        if pt > 0 {
            for i in 0..<(width * height) { out[i] = out[i] << UInt16(pt) }
        }
    }

    struct GreyScanRun {
        let lut: UnsafePointer<UInt16>
        let table: UnsafePointer<JPEGHuffmanTable>
        let out: UnsafeMutablePointer<UInt16>
        let width: Int, height: Int, initial: Int, restartInterval: Int

        /// The next difference, or nil for a bad Huffman code.
        @inline(__always) func difference(_ r: inout JPEGBitReader) -> Int? {
            if r.bitCount < 32 { r.fill() }
            let s = r.decode(lut: lut, table: table)
            if s == 0 { return 0 }
            guard s > 0, s <= 16 else { return nil }
            if s == 16 { return 32768 }
            let v = Int(r.accumulator >> UInt64(64 - s))
            r.accumulator <<= UInt64(s)
            r.bitCount -= s
            return v < (1 << (s - 1)) ? v - (1 << s) + 1 : v
        }

        mutating func decode<P: LosslessPredictor>(_ reader: inout JPEGBitReader, _: P.Type) throws {
            var r = reader  // a local copy stays in registers
            defer { reader = r }
            var restarts = JPEGRestartCounter(interval: restartInterval)
            var firstLine = true, resetPending = true
            for y in 0..<height {
                let row = out + y * width
                var x = 0
                while x < width {
                    if try restarts.next(&r, codec: codec, ifTruncated: truncated(y)) {
                        firstLine = true
                        resetPending = true
                    }
                    guard let diff = difference(&r) else {
                        throw PixelDecodingError.corrupt(codec: codec, reason: "bad Huffman code in line \(y + 1)")
                    }
                    let pred: Int
                    if x > 0 && !firstLine {
                        pred = P.predict(ra: Int(row[x - 1]), rb: Int(row[x - width]), rc: Int(row[x - width - 1]))
                    } else if resetPending {
                        pred = initial
                        resetPending = false
                    } else if firstLine {
                        pred = Int(row[x - 1])
                    } else {
                        pred = Int(row[x - width])
                    }
                    row[x] = UInt16(truncatingIfNeeded: pred &+ diff)
                    x &+= 1
                }
                firstLine = false
            }
        }
    }

    static func truncated(_ line: Int) -> PixelDecodingError {
        .truncated(codec: codec, reason: "entropy-coded data ends before line \(line + 1)")
    }

    /// Interleaved samples → little-endian bytes of bitsAllocated/8, masked to BitsStored.
    static func pack(_ samples: [UInt16], info: PixelFrameInfo) -> [UInt8] {
        let mask = UInt32((UInt64(1) << info.bitsStored) - 1)
        let n = samples.count
        var out = [UInt8](repeating: 0, count: info.decodedByteCount)
        samples.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBytes { o in
                switch info.bytesPerSample {
                case 1:
                    let d = o.bindMemory(to: UInt8.self)
                    for i in 0..<n { d[i] = UInt8(truncatingIfNeeded: UInt32(s[i]) & mask) }
                case 2:
                    let d = o.bindMemory(to: UInt16.self)
                    for i in 0..<n { d[i] = UInt16(truncatingIfNeeded: UInt32(s[i]) & mask).littleEndian }
                default:
                    let d = o.bindMemory(to: UInt32.self)
                    for i in 0..<n { d[i] = (UInt32(s[i]) & mask).littleEndian }
                }
            }
        }
        return out
    }
}

/// The seven predictors of T.81 Table H.1 (Ra left, Rb above, Rc above-left).
protocol LosslessPredictor { static func predict(ra: Int, rb: Int, rc: Int) -> Int }
enum Predictor1: LosslessPredictor { @inline(__always) static func predict(ra: Int, rb: Int, rc: Int) -> Int { ra } }
enum Predictor2: LosslessPredictor { @inline(__always) static func predict(ra: Int, rb: Int, rc: Int) -> Int { rb } }
enum Predictor3: LosslessPredictor { @inline(__always) static func predict(ra: Int, rb: Int, rc: Int) -> Int { rc } }
enum Predictor4: LosslessPredictor { @inline(__always) static func predict(ra: Int, rb: Int, rc: Int) -> Int { ra + rb - rc } }
enum Predictor5: LosslessPredictor { @inline(__always) static func predict(ra: Int, rb: Int, rc: Int) -> Int { ra + ((rb - rc) >> 1) } }
enum Predictor6: LosslessPredictor { @inline(__always) static func predict(ra: Int, rb: Int, rc: Int) -> Int { rb + ((ra - rc) >> 1) } }
enum Predictor7: LosslessPredictor { @inline(__always) static func predict(ra: Int, rb: Int, rc: Int) -> Int { (ra + rb) >> 1 } }
