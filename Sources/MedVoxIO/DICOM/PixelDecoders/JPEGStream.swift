/// Marker-level parsing and Huffman entropy decoding shared by MedVox's native JPEG decoders
/// (lossless process 14 and 12-bit sequential DCT), ITU-T T.81 (ISO/IEC 10918-1).

/// A frame header (SOFn, T.81 B.2.2).
struct JPEGFrameHeader {
    struct Component {
        var id: Int, h: Int, v: Int, quantTable: Int
    }
    var marker: UInt8          // 0xC0…0xCF (not C4, C8, CC)
    var precision: Int
    var lines: Int
    var samplesPerLine: Int
    var components: [Component]
}

/// A scan header (SOS, T.81 B.2.3).
struct JPEGScanHeader {
    struct Component {
        var index: Int          // index into the frame's components
        var dcTable: Int, acTable: Int
    }
    var components: [Component]
    var ss: Int, se: Int, ah: Int, al: Int
}

/// A Huffman table with a 9-bit look-ahead table and the T.81 F.2.2.3 slow path.
struct JPEGHuffmanTable {
    static let lookBits = 9
    /// (length << 8) | value for codes of ≤ 9 bits, 0 otherwise.
    var lookup = [UInt16](repeating: 0, count: 1 << lookBits)
    var maxcode = [Int32](repeating: -1, count: 18)
    var valptr = [Int32](repeating: 0, count: 17)
    var mincode = [Int32](repeating: 0, count: 17)
    var values: [UInt8]

    init(counts: [Int], values: [UInt8], codec: String) throws {
        self.values = values
        var code: Int32 = 0
        var k: Int32 = 0
        for l in 1...16 {
            let n = Int32(counts[l - 1])
            valptr[l] = k
            mincode[l] = code
            code += n
            k += n
            guard code <= (Int32(1) << l) else {
                throw PixelDecodingError.corrupt(codec: codec, reason: "Huffman table with too many codes of length \(l)")
            }
            maxcode[l] = n > 0 ? code - 1 : -1
            if l <= Self.lookBits {
                for c in (code - n)..<code {
                    let v = values[Int(valptr[l] + c - mincode[l])]
                    let shift = Self.lookBits - l
                    let base = Int(c) << shift
                    for j in 0..<(1 << shift) { lookup[base + j] = UInt16(l) << 8 | UInt16(v) }
                }
            }
            code <<= 1
        }
        maxcode[17] = Int32.max  // sentinel
    }
}

/// Reads the entropy-coded bytes of a scan: removes stuffed zero bytes, stops at markers, and
/// counts the zero bytes it has to invent past the data so a truncated stream is detected.
struct JPEGBitReader {
    let data: UnsafeBufferPointer<UInt8>
    var position: Int
    var accumulator: UInt64 = 0
    var bitCount = 0
    /// Zero bytes fed after the data ran out or a marker was reached.
    var paddingBytes = 0

    init(_ data: UnsafeBufferPointer<UInt8>, position: Int) {
        self.data = data
        self.position = position
    }

    @inline(__always) mutating func fill() {
        while bitCount <= 56 {
            var byte: UInt64 = 0
            if position < data.count {
                let b = data[position]
                if b == 0xFF {
                    let next = position + 1 < data.count ? data[position + 1] : 0xD9
                    if next == 0x00 {
                        byte = 0xFF
                        position += 2
                    } else if next == 0xFF {
                        position += 1  // fill byte before a marker
                        continue
                    } else {
                        paddingBytes += 1  // a marker: stop here, feed zeros
                    }
                } else {
                    byte = UInt64(b)
                    position += 1
                }
            } else {
                paddingBytes += 1
            }
            accumulator |= byte << (56 - bitCount)
            bitCount += 8
        }
    }

    /// Whether bits beyond the real data have been consumed.
    var overran: Bool { paddingBytes * 8 > bitCount }

    @inline(__always) mutating func bits(_ n: Int) -> Int {
        if n == 0 { return 0 }
        if bitCount < n { fill() }
        let v = Int(accumulator >> (64 - n))
        accumulator <<= UInt64(n)
        bitCount -= n
        return v
    }

    @inline(__always) mutating func decode(_ t: UnsafePointer<JPEGHuffmanTable>) -> Int? {
        if bitCount < 16 { fill() }
        let look = Int(accumulator >> (64 - JPEGHuffmanTable.lookBits))
        let e = t.pointee.lookup.withUnsafeBufferPointer { $0[look] }
        if e != 0 {
            let l = Int(e >> 8)
            accumulator <<= UInt64(l)
            bitCount -= l
            return Int(e & 0xFF)
        }
        let code16 = Int32(truncatingIfNeeded: accumulator >> 48)
        var l = JPEGHuffmanTable.lookBits + 1
        while l <= 16 {
            let c = code16 >> Int32(16 - l)
            if c <= t.pointee.maxcode[l] {
                accumulator <<= UInt64(l)
                bitCount -= l
                let i = Int(t.pointee.valptr[l] + c - t.pointee.mincode[l])
                return i < t.pointee.values.count ? Int(t.pointee.values[i]) : nil
            }
            l += 1
        }
        return nil
    }

    /// Decodes one Huffman symbol with the table's look-up array `lut` already in hand;
    /// returns -1 for a code the table lacks. Call with at least 16 bits buffered.
    @inline(__always) mutating func decode(lut: UnsafePointer<UInt16>, table: UnsafePointer<JPEGHuffmanTable>) -> Int {
        let e = lut[Int(accumulator >> (64 - JPEGHuffmanTable.lookBits))]
        if e != 0 {
            let l = Int(e >> 8)
            accumulator <<= UInt64(l)
            bitCount -= l
            return Int(e & 0xFF)
        }
        return decode(table) ?? -1
    }

    /// A difference of category `s` (T.81 F.2.2.1 RECEIVE and EXTEND).
    @inline(__always) mutating func receiveExtend(_ s: Int) -> Int {
        let v = bits(s)
        return v < (1 << (s - 1)) ? v - (1 << s) + 1 : v
    }

    /// Skips to the next byte boundary and reads an RSTn marker (T.81 E.2.4).
    mutating func restart(expected n: Int, codec: String) throws {
        // The reader never reads past a marker, so the buffered bits are only the byte padding
        // (and invented zeros); drop them and expect the marker at `position`.
        accumulator = 0
        bitCount = 0
        paddingBytes = 0
        while position < data.count, data[position] != 0xFF { position += 1 }  // lenient: skip junk
        while position + 1 < data.count, data[position + 1] == 0xFF { position += 1 }
        guard position + 1 < data.count, data[position + 1] == 0xD0 + UInt8(n & 7) else {
            throw PixelDecodingError.corrupt(codec: codec, reason: "restart marker RST\(n & 7) missing at byte \(position)")
        }
        position += 2
    }
}

/// Counts MCUs and reads the RSTn marker that ends each restart interval (T.81 E.2.4).
struct JPEGRestartCounter {
    let interval: Int
    var left: Int
    var number = 0

    init(interval: Int) {
        self.interval = interval
        left = interval > 0 ? interval : Int.max
    }

    /// Call before each MCU; returns true when a restart marker was just read (reset predictions).
    @inline(__always)
    mutating func next(_ reader: inout JPEGBitReader, codec: String,
                       ifTruncated: @autoclosure () -> PixelDecodingError) throws -> Bool {
        left &-= 1
        guard left < 0 else { return false }
        if reader.overran { throw ifTruncated() }
        try reader.restart(expected: number, codec: codec)
        number += 1
        left = interval - 1
        return true
    }
}

/// Walks the marker segments of a JPEG stream.
struct JPEGParser {
    let codec: String
    let data: [UInt8]
    var position = 0
    var frame: JPEGFrameHeader?
    var dcTables = [JPEGHuffmanTable?](repeating: nil, count: 4)
    var acTables = [JPEGHuffmanTable?](repeating: nil, count: 4)
    /// Quantization tables in natural (row-major) order.
    var quantTables = [[Int32]?](repeating: nil, count: 4)
    var restartInterval = 0

    init(_ data: [UInt8], codec: String) throws {
        self.data = data
        self.codec = codec
        guard data.count >= 4, data[0] == 0xFF, data[1] == 0xD8 else {
            throw PixelDecodingError.corrupt(codec: codec, reason: "no JPEG start-of-image marker")
        }
        position = 2
    }

    func u16(_ at: Int) -> Int { Int(data[at]) << 8 | Int(data[at + 1]) }

    /// Reads markers up to the next SOS (returns its header, `position` at the entropy-coded data)
    /// or EOI (returns nil).
    mutating func nextScan() throws -> JPEGScanHeader? {
        var segments = 0
        while true {
            segments += 1
            guard segments < 10_000 else {
                throw PixelDecodingError.corrupt(codec: codec, reason: "more than 10000 marker segments")
            }
            // Find the next marker (skip fill bytes; tolerate junk between segments).
            while position < data.count, data[position] != 0xFF { position += 1 }
            while position < data.count, data[position] == 0xFF { position += 1 }
            guard position < data.count else {
                if frame != nil { return nil }  // no EOI: treat the end of data as EOI
                throw PixelDecodingError.truncated(codec: codec, reason: "no frame header before the end of the data")
            }
            let marker = data[position]
            position += 1
            switch marker {
            case 0xD9: return nil
            case 0xD0...0xD7, 0x01: continue
            default: break
            }
            guard position + 2 <= data.count else {
                throw PixelDecodingError.truncated(codec: codec, reason: "marker segment FF\(hex(marker)) cut off")
            }
            let length = u16(position)
            guard length >= 2, position + length <= data.count else {
                throw PixelDecodingError.truncated(codec: codec, reason: "marker segment FF\(hex(marker)) of \(length) bytes passes the end of the data")
            }
            let start = position + 2, end = position + length
            position = end
            switch marker {
            case 0xC4: try readHuffman(start, end)
            case 0xDB: try readQuant(start, end)
            case 0xDD:
                guard end - start >= 2 else { throw corrupt("short DRI segment") }
                restartInterval = u16(start)
            case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
                guard frame == nil else { throw corrupt("more than one frame header") }
                try readFrame(marker, start, end)
            case 0xDA:
                guard frame != nil else { throw corrupt("scan before frame header") }
                return try readScan(start, end)
            default: continue  // APPn, COM, DNL, …
            }
        }
    }

    func corrupt(_ reason: String) -> PixelDecodingError { .corrupt(codec: codec, reason: reason) }
    func hex(_ b: UInt8) -> String { String(b, radix: 16, uppercase: true) }

    mutating func readHuffman(_ start: Int, _ end: Int) throws {
        var p = start
        while p < end {
            guard p + 17 <= end else { throw corrupt("short DHT segment") }
            let tc = Int(data[p] >> 4), th = Int(data[p] & 15)
            guard tc <= 1, th <= 3 else { throw corrupt("Huffman table class \(tc) id \(th)") }
            let counts = (0..<16).map { Int(data[p + 1 + $0]) }
            let total = counts.reduce(0, +)
            p += 17
            guard total <= 256, p + total <= end else { throw corrupt("DHT segment with \(total) codes runs past its end") }
            let table = try JPEGHuffmanTable(counts: counts, values: Array(data[p..<(p + total)]), codec: codec)
            p += total
            if tc == 0 { dcTables[th] = table } else { acTables[th] = table }
        }
    }

    mutating func readQuant(_ start: Int, _ end: Int) throws {
        var p = start
        while p < end {
            let pq = Int(data[p] >> 4), tq = Int(data[p] & 15)
            guard pq <= 1, tq <= 3 else { throw corrupt("quantization table precision \(pq) id \(tq)") }
            let size = pq == 0 ? 64 : 128
            guard p + 1 + size <= end else { throw corrupt("short DQT segment") }
            var q = [Int32](repeating: 0, count: 64)
            for k in 0..<64 {
                let v = pq == 0 ? Int32(data[p + 1 + k]) : Int32(u16(p + 1 + 2 * k))
                q[JPEGZigzag.natural[k]] = v
            }
            quantTables[tq] = q
            p += 1 + size
        }
    }

    mutating func readFrame(_ marker: UInt8, _ start: Int, _ end: Int) throws {
        guard end - start >= 6 else { throw corrupt("short frame header") }
        let n = Int(data[start + 5])
        guard n >= 1, n <= 4, end - start >= 6 + 3 * n else { throw corrupt("frame header with \(n) components") }
        var comps: [JPEGFrameHeader.Component] = []
        for i in 0..<n {
            let p = start + 6 + 3 * i
            let h = Int(data[p + 1] >> 4), v = Int(data[p + 1] & 15)
            guard (1...4).contains(h), (1...4).contains(v), data[p + 2] <= 3 else {
                throw corrupt("component \(i + 1) sampling \(h)×\(v)")
            }
            comps.append(.init(id: Int(data[p]), h: h, v: v, quantTable: Int(data[p + 2])))
        }
        frame = JPEGFrameHeader(marker: marker, precision: Int(data[start]), lines: u16(start + 1),
                                samplesPerLine: u16(start + 3), components: comps)
    }

    mutating func readScan(_ start: Int, _ end: Int) throws -> JPEGScanHeader {
        guard end - start >= 1 else { throw corrupt("short scan header") }
        let n = Int(data[start])
        guard n >= 1, n <= 4, end - start >= 4 + 2 * n else { throw corrupt("scan header with \(n) components") }
        var comps: [JPEGScanHeader.Component] = []
        for i in 0..<n {
            let p = start + 1 + 2 * i
            guard let index = frame!.components.firstIndex(where: { $0.id == Int(data[p]) }) else {
                throw corrupt("scan names component \(data[p]) that the frame lacks")
            }
            let td = Int(data[p + 1] >> 4), ta = Int(data[p + 1] & 15)
            guard td <= 3, ta <= 3 else { throw corrupt("scan table ids \(td)/\(ta)") }
            comps.append(.init(index: index, dcTable: td, acTable: ta))
        }
        let p = start + 1 + 2 * n
        return JPEGScanHeader(components: comps, ss: Int(data[p]), se: Int(data[p + 1]),
                              ah: Int(data[p + 2] >> 4), al: Int(data[p + 2] & 15))
    }

    /// Checks the frame against the dataset's description.
    func checkFrame(against info: PixelFrameInfo) throws -> JPEGFrameHeader {
        guard let f = frame else { throw corrupt("no frame header") }
        if f.lines != 0, f.lines != info.rows {
            throw PixelDecodingError.mismatch(codec: codec, field: "rows", expected: info.rows, actual: f.lines)
        }
        if f.samplesPerLine != info.columns {
            throw PixelDecodingError.mismatch(codec: codec, field: "columns", expected: info.columns, actual: f.samplesPerLine)
        }
        if f.components.count != info.samplesPerPixel {
            throw PixelDecodingError.mismatch(codec: codec, field: "components", expected: info.samplesPerPixel, actual: f.components.count)
        }
        return f
    }
}

enum JPEGZigzag {
    /// natural[k] is the row-major position of the k-th coefficient in zig-zag order (T.81 Figure A.6).
    static let natural: [Int] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
        12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ]
}
