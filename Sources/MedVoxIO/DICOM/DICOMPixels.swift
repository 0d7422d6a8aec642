import Foundation
import MedVoxCore

/// The Image Pixel module of a data set (PS3.3 C.7.6.3), validated.
public struct DICOMPixelInfo: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public var samplesPerPixel: Int
    public var bitsAllocated: Int
    public var bitsStored: Int
    public var highBit: Int
    /// PixelRepresentation 1: two's complement.
    public var isSigned: Bool
    public var planarConfiguration: Int
    public var photometricInterpretation: String
    public var numberOfFrames: Int
    /// Set for a Siemens mosaic seen as its slices (`DICOMFile.imageInfo`): rows, columns and
    /// frames then describe one tile each.
    public var mosaic: MosaicLayout? = nil

    /// Bytes of one native (uncompressed) frame. Native YBR_FULL_422 stores two samples per
    /// pixel (Y1 Y2 Cb Cr per pair, PS3.5 8.2.1 / PS3.3 C.7.6.3.1.2).
    public var frameBytes: Int {
        if bitsAllocated == 1 { return (rows * columns * samplesPerPixel + 7) / 8 }
        let samples = photometricInterpretation == "YBR_FULL_422" ? 2 : samplesPerPixel
        return rows * columns * samples * (bitsAllocated / 8)
    }
    /// Output channels: 3 for colour, else 1.
    public var channels: Int { samplesPerPixel == 3 ? 3 : 1 }
    public var pixelsPerFrame: Int { rows * columns }

    /// Reads and checks the module; `path` names the file in errors. Sizes are bounded by
    /// `Runtime.maxMemory` (as Float32 output) so no header can make the reader allocate wildly.
    public init(_ ds: DICOMDataset, path: String) throws {
        func req(_ tag: DICOMTag, _ name: String) throws -> Int {
            guard let v = ds.int(tag) else { throw DICOMError.missingAttribute(path: path, keyword: name) }
            return v
        }
        rows = try req(.rows, "Rows")
        columns = try req(.columns, "Columns")
        bitsAllocated = try req(.bitsAllocated, "BitsAllocated")
        bitsStored = ds.int(.bitsStored) ?? bitsAllocated
        highBit = ds.int(.highBit) ?? (bitsStored - 1)
        samplesPerPixel = ds.int(.samplesPerPixel) ?? 1
        isSigned = (ds.int(.pixelRepresentation) ?? 0) == 1
        planarConfiguration = ds.int(.planarConfiguration) ?? 0
        photometricInterpretation = ds.string(.photometricInterpretation)?.uppercased() ?? (samplesPerPixel == 3 ? "RGB" : "MONOCHROME2")
        numberOfFrames = ds.int(.numberOfFrames) ?? 1
        if numberOfFrames == 0 { numberOfFrames = 1 }
        func bad(_ k: String, _ v: Int, _ why: String) -> DICOMError {
            .invalidAttribute(path: path, keyword: k, value: String(v), reason: why)
        }
        guard (1...65535).contains(rows) else { throw bad("Rows", rows, "must be 1...65535") }
        guard (1...65535).contains(columns) else { throw bad("Columns", columns, "must be 1...65535") }
        guard [1, 8, 16, 32].contains(bitsAllocated) else { throw bad("BitsAllocated", bitsAllocated, "must be 1, 8, 16 or 32") }
        guard (1...bitsAllocated).contains(bitsStored) else { throw bad("BitsStored", bitsStored, "must be 1...BitsAllocated") }
        guard highBit >= bitsStored - 1 && highBit < bitsAllocated else { throw bad("HighBit", highBit, "must be BitsStored-1...BitsAllocated-1") }
        guard samplesPerPixel == 1 || samplesPerPixel == 3 else { throw bad("SamplesPerPixel", samplesPerPixel, "must be 1 or 3") }
        guard planarConfiguration == 0 || planarConfiguration == 1 else { throw bad("PlanarConfiguration", planarConfiguration, "must be 0 or 1") }
        guard numberOfFrames >= 1 else { throw bad("NumberOfFrames", numberOfFrames, "must be at least 1") }
        let pixels = rows.multipliedReportingOverflow(by: columns)
        // Decoding holds the stored samples and their Float values at once: count both.
        let perSample = 4 + (bitsAllocated + 7) / 8
        let total = pixels.partialValue.multipliedReportingOverflow(by: numberOfFrames * channels * perSample)
        guard !pixels.overflow, !total.overflow, numberOfFrames < 1 << 24, total.partialValue <= Runtime.maxMemory else {
            throw DICOMError.tooLarge(path: path, bytes: total.overflow ? Int.max : total.partialValue, limit: Runtime.maxMemory)
        }
        let supported = ["MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR", "YBR_RCT", "YBR_ICT", "YBR_PARTIAL_420"]
        guard supported.contains(photometricInterpretation) else {
            throw DICOMError.invalidAttribute(path: path, keyword: "PhotometricInterpretation", value: photometricInterpretation, reason: "not supported")
        }
        if samplesPerPixel == 1 && !photometricInterpretation.hasPrefix("MONOCHROME") && photometricInterpretation != "PALETTE COLOR" {
            throw DICOMError.invalidAttribute(path: path, keyword: "PhotometricInterpretation", value: photometricInterpretation, reason: "needs 3 samples per pixel")
        }
    }

    var frameInfo: PixelFrameInfo {
        PixelFrameInfo(rows: rows, columns: columns, samplesPerPixel: samplesPerPixel, bitsAllocated: bitsAllocated,
                       bitsStored: bitsStored, isSigned: isSigned, planarConfiguration: planarConfiguration,
                       photometricInterpretation: photometricInterpretation)
    }
}

/// Receives decoded stored values: `put(index, value)` with `index = channel * channelStride + pixel`.
protocol StoredValueSink {
    mutating func put(_ index: Int, _ value: Int32)
}

/// Writes real values (modality LUT applied: `slope * stored + intercept`, PS3.3 C.11.1.1.2).
struct FloatSink: StoredValueSink {
    let out: UnsafeMutablePointer<Float>
    let slope: Float, intercept: Float
    /// Unsigned 32-bit stored values arrive as their Int32 bit pattern.
    var unsigned32 = false
    @inline(__always) mutating func put(_ i: Int, _ v: Int32) {
        out[i] = (unsigned32 ? Float(UInt32(bitPattern: v)) : Float(v)) * slope + intercept
    }
}

/// Writes stored values unchanged as Int32 (for writers that keep the stored type).
/// Native pixel decoding (PS3.5 §8.1): BitsStored/HighBit masking, sign extension, MONOCHROME1
/// inversion, planar configuration, and YBR_FULL / YBR_FULL_422 → RGB (PS3.3 C.7.6.3.1.2).
enum NativePixels {
    /// Decodes one frame of `bytes` (exactly `info.frameBytes` long, in `order`) into `sink`.
    /// Colour frames go to three planes `channelStride` apart (R, G, B).
    static func decode<S: StoredValueSink>(
        _ src: UnsafeRawBufferPointer, info: DICOMPixelInfo, photometric: String, planar: Int, order: ByteOrder,
        channelStride: Int, into sink: inout S
    ) {
        let n = info.pixelsPerFrame
        let shift = info.highBit + 1 - info.bitsStored
        let bs = info.bitsStored
        let mask: UInt32 = bs >= 32 ? 0xFFFF_FFFF : (1 << UInt32(bs)) - 1
        let signBit: UInt32 = 1 << UInt32(bs - 1)
        let invert = photometric == "MONOCHROME1"
        let signed = info.isSigned
        @inline(__always) func value(_ raw: UInt32) -> Int32 {
            var u = (raw >> UInt32(shift)) & mask
            if invert { u = mask - u }
            if signed && bs < 32 && u & signBit != 0 { u |= ~mask }
            return Int32(bitPattern: u)
        }
        @inline(__always) func raw(_ k: Int) -> UInt32 {
            switch info.bitsAllocated {
            case 8: return UInt32(src[k])
            case 16:
                let a = UInt32(src[2 * k]), b = UInt32(src[2 * k + 1])
                return order == .little ? a | b << 8 : a << 8 | b
            case 32:
                let a = UInt32(src[4 * k]), b = UInt32(src[4 * k + 1]), c = UInt32(src[4 * k + 2]), d = UInt32(src[4 * k + 3])
                return order == .little ? a | b << 8 | c << 16 | d << 24 : a << 24 | b << 16 | c << 8 | d
            default:  // 1 bit, least significant bit first (PS3.5 §8.1.1)
                return UInt32(src[k >> 3] >> UInt8(k & 7)) & 1
            }
        }
        if info.samplesPerPixel == 1 {
            if info.bitsAllocated == 16 && order == .little && shift == 0 && !invert {
                // Fast path: the common 16-bit little-endian case.
                let p = src.baseAddress!.assumingMemoryBound(to: UInt16.self)
                if signed && bs == 16 {
                    for k in 0..<n { sink.put(k, Int32(Int16(bitPattern: UInt16(littleEndian: p[k])))) }
                } else if !signed && bs == 16 {
                    for k in 0..<n { sink.put(k, Int32(UInt16(littleEndian: p[k]))) }
                } else {
                    for k in 0..<n { sink.put(k, value(UInt32(UInt16(littleEndian: p[k])))) }
                }
                return
            }
            for k in 0..<n { sink.put(k, value(raw(k))) }
            return
        }
        // Three samples.
        if photometric == "YBR_FULL_422" {
            // Y1 Y2 Cb Cr for each horizontal pair of pixels (PS3.3 C.7.6.3.1.2), 8 bit: the frame
            // holds 2 bytes per pixel (frameBytes counts 3), so read only what the pairs need.
            for p in stride(from: 0, to: n - 1, by: 2) {
                let k = 2 * p
                let cb = Double(raw(k + 2)), cr = Double(raw(k + 3))
                putYBR(Double(raw(k)), cb, cr, p, channelStride, &sink)
                putYBR(Double(raw(k + 1)), cb, cr, p + 1, channelStride, &sink)
            }
            return
        }
        let ybr = photometric == "YBR_FULL"
        for p in 0..<n {
            let a: UInt32, b: UInt32, c: UInt32
            if planar == 0 {
                a = raw(3 * p); b = raw(3 * p + 1); c = raw(3 * p + 2)
            } else {
                a = raw(p); b = raw(n + p); c = raw(2 * n + p)
            }
            if ybr {
                putYBR(Double(a), Double(b), Double(c), p, channelStride, &sink)
            } else {
                sink.put(p, value(a))
                sink.put(channelStride + p, value(b))
                sink.put(2 * channelStride + p, value(c))
            }
        }
    }

    /// YBR_FULL → RGB, 8-bit full range (PS3.3 C.7.6.3.1.2; the ITU-R BT.601 inverse pydicom uses).
    @inline(__always) static func putYBR<S: StoredValueSink>(_ y: Double, _ cb: Double, _ cr: Double, _ p: Int, _ stride: Int, _ sink: inout S) {
        func clamp(_ v: Double) -> Int32 { Int32(max(0, min(255, v.rounded()))) }
        sink.put(p, clamp(y + 1.402 * (cr - 128)))
        sink.put(stride + p, clamp(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)))
        sink.put(2 * stride + p, clamp(y + 1.772 * (cb - 128)))
    }
}

/// Encapsulated pixel data (PS3.5 §A.4): items after (7FE0,0010) with undefined length; the first
/// is the Basic Offset Table, the rest are fragments. Frames may span several fragments.
enum EncapsulatedPixels {
    /// Splits the value of an encapsulated (7FE0,0010) into one byte array per frame.
    /// - Parameters:
    ///   - extendedOffsets/extendedLengths: the Extended Offset Table (7FE0,0001)/(7FE0,0002) when present.
    static func frames(_ bytes: [UInt8], frameCount: Int, extendedOffsets: [UInt64]?, extendedLengths: [UInt64]?,
                       path: String) throws -> [[UInt8]] {
        var r = ByteReader(bytes, order: .little)
        var bot: [Int] = []
        var fragments: [(offset: Int, range: Range<Int>)] = []  // offset relative to the first fragment item
        var first = true
        var firstFragmentStart = 0
        do {
            while r.remaining >= 8 {
                let itemStart = r.offset
                let g = try r.uint16(), e = try r.uint16()
                let len = Int(try r.uint32())
                if g == 0xFFFE && e == 0xE0DD { break }
                guard g == 0xFFFE && e == 0xE000 else {
                    throw DICOMError.malformed(path: path, offset: itemStart, reason: "expected a pixel data item, found (\(hex4(g)),\(hex4(e)))")
                }
                guard len != 0xFFFF_FFFF, len <= r.remaining else {
                    throw DICOMError.truncated(path: path, offset: itemStart, detail: "pixel data fragment of \(len) bytes passes the end of the file")
                }
                if first {
                    var t = ByteReader(Array(try r.bytes(len)), order: .little)
                    while t.remaining >= 4 { bot.append(Int(try t.uint32())) }
                    first = false
                    firstFragmentStart = r.offset
                } else {
                    fragments.append((itemStart - firstFragmentStart, r.offset..<(r.offset + len)))
                    try r.skip(len)
                }
            }
        } catch let e as ByteReader.TruncatedData {
            throw DICOMError.truncated(path: path, offset: e.offset, detail: "pixel data items end early")
        }
        guard !fragments.isEmpty else { throw DICOMError.missingPixelData(path: path) }
        func concat(_ fs: ArraySlice<(offset: Int, range: Range<Int>)>) -> [UInt8] {
            var out = [UInt8]()
            out.reserveCapacity(fs.reduce(0) { $0 + $1.range.count })
            for f in fs { out.append(contentsOf: bytes[f.range]) }
            return out
        }
        if let offs = extendedOffsets, let lens = extendedLengths, offs.count == frameCount, lens.count == frameCount {
            // Offsets point at the item tag of a frame's first fragment; one fragment per frame (PS3.5 A.4).
            return try (0..<frameCount).map { i in
                guard let f = fragments.first(where: { UInt64($0.offset) == offs[i] }) else {
                    throw DICOMError.malformed(path: path, offset: 0, reason: "Extended Offset Table entry \(i) matches no fragment")
                }
                let n = Int(min(lens[i], UInt64(f.range.count)))
                return Array(bytes[f.range.lowerBound..<(f.range.lowerBound + n)])
            }
        }
        if frameCount == 1 { return [concat(fragments[...])] }
        if bot.count == frameCount {
            var out: [[UInt8]] = []
            for i in 0..<frameCount {
                let lo = bot[i], hi = i + 1 < frameCount ? bot[i + 1] : Int.max
                let fs = fragments.filter { $0.offset >= lo && $0.offset < hi }
                guard !fs.isEmpty else {
                    throw DICOMError.malformed(path: path, offset: 0, reason: "Basic Offset Table entry \(i) matches no fragment")
                }
                out.append(concat(fs[...]))
            }
            return out
        }
        if fragments.count == frameCount { return fragments.map { Array(bytes[$0.range]) } }
        // No offset table and more fragments than frames: split at codestream starts
        // (JPEG SOI FFD8, JPEG 2000 SOC FF4F; PS3.5 A.4 allows this only for such streams).
        var starts: [Int] = []
        for (i, f) in fragments.enumerated() where f.range.count >= 2 {
            let a = bytes[f.range.lowerBound], b = bytes[f.range.lowerBound + 1]
            if a == 0xFF && (b == 0xD8 || b == 0x4F) { starts.append(i) }
        }
        guard starts.count == frameCount, starts.first == 0 else {
            throw DICOMError.malformed(path: path, offset: 0, reason: "\(fragments.count) fragments cannot be split into \(frameCount) frames (no offset table)")
        }
        return (0..<frameCount).map { i in
            let hi = i + 1 < frameCount ? starts[i + 1] : fragments.count
            return concat(fragments[starts[i]..<hi])
        }
    }
}

extension DICOMFile {
    /// The validated Image Pixel module of this file.
    public func pixelInfo() throws -> DICOMPixelInfo { try DICOMPixelInfo(dataset, path: path) }

    /// Decodes frames `frames` into `sink` (frame f's values start at `frameOffset(f)`).
    /// Native data is read frame by frame straight from the file; encapsulated data is split into
    /// frames and each is handed to the decoder registered for the transfer syntax.
    func decodeFrames<S: StoredValueSink>(
        _ frames: [Int], info: DICOMPixelInfo, channelStride: Int, sink: (Int) -> S
    ) throws {
        if let m = info.mosaic {
            // One stored image holds every slice: decode it once, routing each tile to its sink.
            let whole = try pixelInfo()
            var sinks = [S?](repeating: nil, count: m.count)
            for f in frames where f >= 0 && f < m.count { sinks[f] = sink(f) }
            try decodeFrames([0], info: whole, channelStride: channelStride) { _ in
                MosaicSink(sinks: sinks, layout: m, fullColumns: whole.columns)
            }
            return
        }
        guard let loc = pixelData else { throw DICOMError.missingPixelData(path: path) }
        let ts = transferSyntax
        let encapsulatedUncompressed = ts.uid == "1.2.840.10008.1.2.1.98"
        if !ts.isEncapsulated {
            let fb = info.frameBytes
            guard let length = loc.length else {
                throw DICOMError.malformed(path: path, offset: loc.offset, reason: "native pixel data with undefined length")
            }
            if length % 2 == 1 {
                throw DICOMError.malformed(path: path, offset: loc.offset, reason: "odd pixel data length \(length)")
            }
            let needed = fb * info.numberOfFrames
            if length < needed || loc.offset + needed > (inflated?.count ?? fileSize) {
                throw DICOMError.pixelDataTooShort(path: path, expected: needed, actual: min(length, max(0, (inflated?.count ?? fileSize) - loc.offset)))
            }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(fb, 1), alignment: 16)
            defer { buffer.deallocate() }
            let order: ByteOrder = (loc.vr == .OB || info.bitsAllocated <= 8) ? .little : ts.byteOrder
            for f in frames {
                try readPixelBytes(offset: f * fb, count: fb, into: buffer.baseAddress!)
                var s = sink(f)
                NativePixels.decode(UnsafeRawBufferPointer(buffer), info: info, photometric: info.photometricInterpretation,
                                    planar: info.planarConfiguration, order: order, channelStride: channelStride, into: &s)
            }
            return
        }
        guard loc.length == nil else {
            throw DICOMError.malformed(path: path, offset: loc.offset, reason: "encapsulated pixel data must have undefined length")
        }
        let decoder = PixelDecoders.decoder(for: ts.uid)
        if decoder == nil && !encapsulatedUncompressed {
            throw DICOMError.unsupportedTransferSyntax(path: path, uid: ts.uid, name: ts.name)
        }
        let all = try readPixelBytes()
        let eot = dataset[.extendedOffsetTable].map { e in ds64(e.bytes) }
        let eotl = dataset[.extendedOffsetTableLengths].map { e in ds64(e.bytes) }
        let frameBytes = try EncapsulatedPixels.frames(all, frameCount: info.numberOfFrames, extendedOffsets: eot,
                                                       extendedLengths: eotl, path: path)
        for f in frames {
            let decoded: DecodedFrame
            if let decoder {
                do {
                    decoded = try decoder.decode(frameBytes[f], info: info.frameInfo)
                } catch {
                    throw DICOMError.pixelDecoding(path: path, frame: f, reason: "\(error)")
                }
            } else {
                decoded = DecodedFrame(bytes: frameBytes[f], photometricInterpretation: info.photometricInterpretation)
            }
            let need = info.pixelsPerFrame * info.samplesPerPixel * max(1, info.bitsAllocated / 8)
            guard decoded.bytes.count >= need else {
                throw DICOMError.pixelDataTooShort(path: path, expected: need, actual: decoded.bytes.count)
            }
            var s = sink(f)
            let planar = decoder == nil ? info.planarConfiguration : 0
            // Decoders return every sample of every pixel, so subsampled YCbCr arrives upsampled.
            var photometric = decoded.photometricInterpretation
            if decoder != nil && photometric.hasPrefix("YBR_FULL") { photometric = "YBR_FULL" }
            decoded.bytes.withUnsafeBytes { raw in
                NativePixels.decode(raw, info: info, photometric: photometric, planar: planar,
                                    order: .little, channelStride: channelStride, into: &s)
            }
        }
    }

    private func ds64(_ b: [UInt8]) -> [UInt64] {
        var r = ByteReader(b, order: .little)
        var out: [UInt64] = []
        while r.remaining >= 8 { out.append((try? r.uint64()) ?? 0) }
        return out
    }
}

extension DICOMFile {
    /// Real values of one frame (modality LUT of that frame applied), columns fastest; colour
    /// frames as three planes R, G, B. For tests and single images; series use `loadVolume`.
    public func frameValues(_ frame: Int) throws -> [Float] {
        let info = try imageInfo()
        guard frame >= 0 && frame < info.numberOfFrames else {
            throw DICOMError.invalidAttribute(path: path, keyword: "frame", value: String(frame), reason: "file has \(info.numberOfFrames) frame(s)")
        }
        let slice = try slices(fileIndex: 0)[frame]
        var out = [Float](repeating: 0, count: info.pixelsPerFrame * info.channels)
        try out.withUnsafeMutableBufferPointer { buf in
            let p = buf.baseAddress!
            try decodeFrames([frame], info: info, channelStride: info.pixelsPerFrame) { _ in
                FloatSink(out: p, slope: Float(slice.scaling.slope), intercept: Float(slice.scaling.intercept),
                          unsigned32: !info.isSigned && info.bitsStored == 32)
            }
        }
        return out
    }
}
