import Foundation
import MedVoxCore

#if canImport(Glibc)
    import Glibc
#endif

/// Errors in NIfTI files: the path and what is wrong, in words a user can act on.
public enum NIfTIError: MedVoxError {
    case notNIfTI(path: String, reason: String)
    case truncated(path: String, what: String, needed: Int, available: Int)
    case invalidHeader(path: String, reason: String)
    case unsupportedDatatype(path: String, code: Int)
    case tooLarge(path: String, bytes: Int, limit: Int)
    case missingDataFile(path: String, expected: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notNIfTI(path, reason): return "\(path): not a NIfTI file: \(reason)"
        case let .truncated(path, what, needed, available):
            return "\(path): truncated: the \(what) needs \(needed) bytes but only \(available) are there"
        case let .invalidHeader(path, reason): return "\(path): invalid NIfTI header: \(reason)"
        case let .unsupportedDatatype(path, code):
            return "\(path): unsupported NIfTI datatype \(NIfTIDatatype.name(code)); supported: "
                + "uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64, rgb24"
        case let .tooLarge(path, bytes, limit):
            return
                "\(path): the image needs \(bytes) bytes, more than the memory limit of \(limit) bytes (--max-memory)"
        case let .missingDataFile(path, expected): return "\(path): the voxel data file \(expected) is missing"
        case let .cannotWrite(path, reason): return "\(path): cannot write NIfTI: \(reason)"
        }
    }
}

/// A NIfTI-1 or NIfTI-2 image on disk: the header is parsed on `open`, the voxels are read only
/// when `rawData()` or `volume()` is called (STYLE.md #11).
///
/// ```swift
/// let f = try NIfTIFile.open("t1.nii.gz")
/// print(f.shape, f.storedType, f.affine.source)
/// let v = try f.volume()            // scaled Float32 voxels + RAS+ geometry
/// let raw = try f.rawData()         // stored values, host byte order
/// ```
public struct NIfTIFile: Sendable {
    /// The header file (the .nii, .nii.gz or .hdr).
    public let path: String
    /// Where the voxels are: `path`, or the .img of a pair.
    public let dataPath: String
    public let header: NIfTIHeader
    public let storedType: ScalarType
    /// dim[1...dim[0]].
    public let shape: [Int]
    /// Byte offset of the voxels in `dataPath` (after decompression).
    public let dataOffset: Int
    /// Bytes of voxel data: product of `shape` × bytes per voxel.
    public let dataByteCount: Int
    public let isHeaderCompressed: Bool
    public let isDataCompressed: Bool

    /// Upper bound on how much a gzip stream can expand (deflate's maximum ratio is 1032:1).
    static let maxDeflateRatio = 1032

    /// Parses the header of `path` (.nii, .nii.gz, .hdr or .hdr.gz) and validates it against the
    /// file size, without reading the voxels.
    public static func open(_ path: String) throws -> NIfTIFile {
        // Given the .img of a pair, read its .hdr.
        for (img, hdr) in [(".img", ".hdr"), (".img.gz", ".hdr.gz"), (".IMG", ".HDR")] where path.hasSuffix(img) {
            let h = String(path.dropLast(img.count)) + hdr
            if FileManager.default.fileExists(atPath: h) { return try open(h) }
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FileError.cannotRead(path: path, reason: "no such file")
        }
        if isDir.boolValue { throw FileError.cannotRead(path: path, reason: "is a folder, not a NIfTI file") }
        let gz = Gzip.isGzip(path: path)
        var prefix = try readPrefix(path, count: 544, gzip: gz)
        var h = try NIfTIHeader.parse(prefix, path: path)
        // dim, datatype: validate before anything is allocated.
        let ndim = h.dim[0]
        guard (1...7).contains(ndim) else {
            throw NIfTIError.invalidHeader(path: path, reason: "dim[0] is \(ndim), expected 1 to 7")
        }
        let shape = Array(h.dim[1...ndim])
        if let bad = shape.firstIndex(where: { $0 < 1 }) {
            throw NIfTIError.invalidHeader(
                path: path, reason: "dim[\(bad + 1)] is \(shape[bad]), sizes must be at least 1")
        }
        guard let entry = NIfTIDatatype.table[h.datatype], let type = entry.type else {
            throw NIfTIError.unsupportedDatatype(path: path, code: h.datatype)
        }
        var count = 1
        for s in shape {
            let (p, o) = count.multipliedReportingOverflow(by: s)
            guard !o else { throw NIfTIError.invalidHeader(path: path, reason: "dims \(shape) overflow a voxel count") }
            count = p
        }
        let (bytes, o) = count.multipliedReportingOverflow(by: type.byteSize)
        guard !o else { throw NIfTIError.invalidHeader(path: path, reason: "dims \(shape) overflow a byte count") }
        guard h.voxOffset.isFinite, h.voxOffset >= 0, h.voxOffset < 1e15, h.voxOffset == h.voxOffset.rounded() else {
            throw NIfTIError.invalidHeader(path: path, reason: "vox_offset \(h.voxOffset) is not a byte offset")
        }
        var offset = Int(h.voxOffset)
        // Single files keep the data after the header and its 4-byte extension flag; an offset
        // below that (often 0 from old writers) means "right after" (nibabel does the same).
        if !h.isPair { offset = max(offset, h.headerSize + 4) }

        // Extensions (single files): listed for `info`, always skipped via vox_offset.
        if !h.isPair && prefix.count > h.headerSize && prefix[h.headerSize] != 0 && offset <= 1 << 20 {
            if prefix.count < offset { prefix = try readPrefix(path, count: offset, gzip: gz) }
            h.extensions = parseExtensions(
                prefix, from: h.headerSize + 4, to: min(offset, prefix.count), order: h.byteOrder)
        }

        var dataPath = path
        var dataGz = gz
        if h.isPair {
            dataPath = try pairedImagePath(path)
            dataGz = Gzip.isGzip(path: dataPath)
        }
        let st = try fileSize(dataPath)
        if dataGz {
            let bound = st.multipliedReportingOverflow(by: maxDeflateRatio)
            if !bound.overflow && offset + bytes > bound.partialValue + 1024 {
                throw NIfTIError.invalidHeader(
                    path: dataPath,
                    reason: "dims \(shape.map(String.init).joined(separator: "×")) \(type) need \(offset + bytes) bytes, "
                        + "more than a \(st)-byte gzip file can hold (at most \(bound.partialValue))")
            }
        } else if offset + bytes > st {
            throw NIfTIError.truncated(
                path: dataPath,
                what: "voxel data (\(shape.map(String.init).joined(separator: "×")) \(type) at offset \(offset))",
                needed: offset + bytes, available: st)
        }
        return NIfTIFile(
            path: path, dataPath: dataPath, header: h, storedType: type, shape: shape, dataOffset: offset,
            dataByteCount: bytes, isHeaderCompressed: gz, isDataCompressed: dataGz)
    }

    /// "x.hdr" → "x.img" (and .hdr.gz → .img.gz), whichever exists, in either letter case.
    static func pairedImagePath(_ path: String) throws -> String {
        let lower = path.lowercased()
        var candidates: [String] = []
        for (h, i) in [(".hdr.gz", [".img.gz", ".img"]), (".hdr", [".img", ".img.gz"])] where lower.hasSuffix(h) {
            let stem = String(path.dropLast(h.count))
            candidates = i.flatMap { [stem + $0, stem + $0.uppercased()] }
            break
        }
        if candidates.isEmpty { candidates = [path + ".img"] }
        for c in candidates where FileManager.default.fileExists(atPath: c) { return c }
        throw NIfTIError.missingDataFile(path: path, expected: candidates[0])
    }

    static func fileSize(_ path: String) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno)))
        }
        return Int(st.st_size)
    }

    /// Up to `count` leading (decompressed) bytes of a file.
    static func readPrefix(_ path: String, count: Int, gzip: Bool) throws -> [UInt8] {
        if gzip { return try GzipReader(path: path).read(count: count) }
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw FileError.cannotRead(path: path, reason: "permission denied or unreadable")
        }
        defer { try? h.close() }
        return [UInt8](h.readData(ofLength: count))
    }

    static func parseExtensions(_ b: [UInt8], from start: Int, to end: Int, order: ByteOrder) -> [(
        code: Int, size: Int
    )] {
        var list: [(Int, Int)] = []
        var r = ByteReader(b, order: order, offset: start)
        while r.offset + 8 <= end {
            guard let size = try? r.int32(), let code = try? r.int32(), size >= 8, Int(size) <= end - r.offset + 8
            else { break }
            list.append((Int(code), Int(size)))
            guard (try? r.skip(Int(size) - 8)) != nil else { break }
        }
        return list
    }

    // MARK: Geometry and scaling from the header

    /// The voxel→RAS+ mm affine (sform, else qform, else pixdim) and its source.
    public var affine: (affine: Affine, source: NIfTIGeometry.Source) { NIfTIGeometry.bestAffine(header) }

    /// Voxel sizes in mm along i, j, k (|pixdim[1...3]| in the header's units, converted).
    public var spacing: [Double] {
        let f = NIfTIGeometry.unitToMM(header)
        return (1...3).map { $0 <= shape.count ? abs(header.pixdim[$0]) * f : 1 }.map { $0 == 0 ? 1 : $0 }
    }

    /// scl_slope / scl_inter as the standard reads them: slope 0 (or not finite) means unscaled.
    public var scaling: IntensityScaling {
        let s = header.sclSlope, i = header.sclInter
        guard storedType != .rgb24, s != 0, s.isFinite else { return .identity }
        return IntensityScaling(slope: s, intercept: i.isFinite ? i : 0)
    }

    /// Volume dims: [nx, ny, nz] or [nx, ny, nz, frames]; dims 5–7 fold into frames, and RGB
    /// voxels become 3 frames (R, G, B) per time point.
    public var volumeDims: [Int] {
        var d = Array(shape.prefix(3))
        while d.count < 3 { d.append(1) }
        var frames = shape.dropFirst(3).reduce(1, *)
        if storedType == .rgb24 { frames *= 3 }
        if frames > 1 { d.append(frames) }
        return d
    }

    /// Seconds between time points (pixdim[4] in the header's time units), for 4D series.
    public var timeStep: Double? {
        guard shape.count >= 4, shape[3] > 1, header.pixdim[4] > 0, header.pixdim[4].isFinite else { return nil }
        return header.pixdim[4] * (NIfTIUnits.temporalToSeconds[header.xyztUnits & 0x38] ?? 1)
    }

    // MARK: Voxels

    /// The stored voxel bytes in host byte order (unscaled), `dataByteCount` long.
    public func rawData() throws -> [UInt8] {
        let (stored, start) = try storedBytes()
        var out = start == 0 && stored.count == dataByteCount ? stored : Array(stored[start..<(start + dataByteCount)])
        if header.byteOrder != hostOrder && storedType.byteSize > 1 && storedType != .rgb24 {
            let n = storedType.byteSize
            out.withUnsafeMutableBytes { b in
                let p = b.baseAddress!
                parallelFor(Runtime.threads) { part in
                    for v in chunkRange(b.count / n, part: part, of: Runtime.threads) {
                        let q = p + v * n
                        for k in 0..<(n / 2) {
                            let t = q.load(fromByteOffset: k, as: UInt8.self)
                            q.storeBytes(
                                of: q.load(fromByteOffset: n - 1 - k, as: UInt8.self), toByteOffset: k, as: UInt8.self)
                            q.storeBytes(of: t, toByteOffset: n - 1 - k, as: UInt8.self)
                        }
                    }
                }
            }
        }
        return out
    }

    /// The image as a `Volume`: Float32 voxels after scl_slope/scl_inter, RAS+ mm affine.
    public func volume() throws -> Volume {
        let count = volumeDims.reduce(1, *)
        let need = count.multipliedReportingOverflow(by: 4)
        guard !need.overflow, need.partialValue + dataByteCount <= Runtime.maxMemory else {
            throw NIfTIError.tooLarge(
                path: path, bytes: need.overflow ? Int.max : need.partialValue + dataByteCount, limit: Runtime.maxMemory
            )
        }
        let swap = header.byteOrder != hostOrder
        let frames3 = volumeDims.count > 3 ? volumeDims[3] : 1
        let voxels: [Float]
        if isDataCompressed && storedType != .rgb24 {
            // Inflate and convert piece by piece (members in parallel for MedVox-written files):
            // the stored bytes are never held whole.
            let n = storedType.byteSize
            let whole = try readWholeFile(dataPath)
            voxels = try [Float](unsafeUninitializedCapacity: count) { dst, initialized in
                try Gzip.forEachPiece(of: whole, from: dataOffset, count: dataByteCount, granule: n, source: dataPath) {
                    offset, bytes in
                    let out = UnsafeMutableBufferPointer(rebasing: dst[(offset / n)..<((offset + bytes.count) / n)])
                    VoxelCodec.decode(bytes, type: storedType, swap: swap, scaling: scaling, into: out, threads: 1)
                }
                initialized = count
            }
        } else if !isDataCompressed, let mapped = try mapData() {
            // Uncompressed: convert straight from the page cache (no copy of the stored bytes).
            defer { munmap(mapped.base, mapped.length) }
            let src = UnsafeRawBufferPointer(start: mapped.base + dataOffset, count: dataByteCount)
            voxels = [Float](unsafeUninitializedCapacity: count) { dst, initialized in
                VoxelCodec.decode(src, type: storedType, swap: swap, scaling: scaling, frames3: frames3, into: dst)
                initialized = count
            }
        } else {
            let (stored, start) = try storedBytes()
            voxels = [Float](unsafeUninitializedCapacity: count) { dst, initialized in
                stored.withUnsafeBytes { all in
                    let src = UnsafeRawBufferPointer(rebasing: all[start..<(start + dataByteCount)])
                    VoxelCodec.decode(src, type: storedType, swap: swap, scaling: scaling, frames3: frames3, into: dst)
                }
                initialized = count
            }
        }
        var v = Volume(
            dims: volumeDims, spacing: spacing, affine: affine.affine, voxels: voxels, storedType: storedType,
            scaling: scaling)
        v.timeStep = timeStep
        return v
    }

    /// The data file mapped read-only (nil when mapping is not possible, e.g. an empty range).
    /// The size was checked on `open`; a file that shrank since then is checked again here, since
    /// touching a mapped page past the end would crash.
    func mapData() throws -> (base: UnsafeMutableRawPointer, length: Int)? {
        let length = dataOffset + dataByteCount
        guard dataByteCount > 0 else { return nil }
        let fd = Glibc.open(dataPath, O_RDONLY)
        guard fd >= 0 else { throw FileError.cannotRead(path: dataPath, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, Int(st.st_size) >= length else {
            throw NIfTIError.truncated(path: dataPath, what: "voxel data", needed: length, available: Int(st.st_size))
        }
        guard let p = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else { return nil }
        madvise(p, length, MADV_SEQUENTIAL)
        return (p, length)
    }

    /// The voxel bytes as stored (file byte order), read from disk or inflated: a buffer and the
    /// offset in it where the `dataByteCount` voxel bytes start (a whole inflated stream is not
    /// copied again).
    func storedBytes() throws -> (bytes: [UInt8], start: Int) {
        guard dataByteCount <= Runtime.maxMemory else {
            throw NIfTIError.tooLarge(path: path, bytes: dataByteCount, limit: Runtime.maxMemory)
        }
        if isDataCompressed {
            return try readCompressed()
        }
        let fd = Glibc.open(dataPath, O_RDONLY)
        guard fd >= 0 else { throw FileError.cannotRead(path: dataPath, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var have = 0
        let out = try [UInt8](unsafeUninitializedCapacity: dataByteCount) { o, initialized in
            // Unread bytes are zeroed so the buffer is always initialized; a short read throws below.
            defer {
                if have < dataByteCount {
                    (o.baseAddress! + have).initialize(repeating: 0, count: dataByteCount - have)
                }
                initialized = dataByteCount
            }
            while have < dataByteCount {
                let n = pread(fd, o.baseAddress! + have, dataByteCount - have, off_t(dataOffset + have))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileError.cannotRead(path: dataPath, reason: String(cString: strerror(errno)))
                }
                if n == 0 { break }
                have += n
            }
        }
        guard have == dataByteCount else {
            throw NIfTIError.truncated(
                path: dataPath, what: "voxel data", needed: dataOffset + dataByteCount, available: dataOffset + have)
        }
        return (out, 0)
    }

    func readCompressed() throws -> (bytes: [UInt8], start: Int) {
        let end = dataOffset + dataByteCount
        // MedVox-written files carry member sizes: inflate the members in parallel.
        let whole = try readWholeFile(dataPath)
        // Members past the declared voxels are never inflated; those holding them may overshoot
        // `end` by less than one member.
        let maxOut = max(end + (4 << 20), Runtime.maxMemory)
        if let all = try whole.withUnsafeBytes({
            try Gzip.decompressIndexed($0, maxOutput: maxOut, needed: end, source: dataPath)
        }) {
            guard all.count >= end else {
                throw NIfTIError.truncated(path: dataPath, what: "voxel data", needed: end, available: all.count)
            }
            return (all, dataOffset)
        }
        let r = try GzipReader(bytes: whole, source: dataPath)
        guard try r.skip(dataOffset) else {
            throw NIfTIError.truncated(
                path: dataPath, what: "header and extensions", needed: dataOffset, available: r.position)
        }
        var out = [UInt8](repeating: 0, count: dataByteCount)
        let n = try out.withUnsafeMutableBytes { try r.read(into: $0) }
        guard n == dataByteCount else {
            throw NIfTIError.truncated(
                path: dataPath, what: "voxel data (after decompression)", needed: end, available: dataOffset + n)
        }
        return (out, 0)
    }
}

let hostOrder: ByteOrder = 1.littleEndian == 1 ? .little : .big

// MARK: - Writing

/// Options for writing NIfTI files.
public struct NIfTIWriteOptions: Sendable {
    /// Stored type (nil: the volume's `storedType`). Masks: `.uint8`.
    public var datatype: ScalarType?
    /// 1 or 2; nil picks NIfTI-1 unless a size exceeds its 16-bit dim fields.
    public var version: Int?
    /// gzip level for .nii.gz (0–9).
    public var compressionLevel: Int = Gzip.defaultLevel
    /// NIFTI_XFORM_* codes written for the sform and qform (both transforms are always written).
    public var sformCode: Int = 1
    public var qformCode: Int = 1
    public var description: String = "MedVox"

    public init(datatype: ScalarType? = nil, version: Int? = nil) {
        self.datatype = datatype
        self.version = version
    }
}

public enum NIfTIWriter {
    /// Writes `volume` to `path` (.nii or .nii.gz) atomically: a failure leaves no file behind.
    ///
    /// The sform holds the volume's affine exactly; the qform its nearest rigid-plus-zoom form;
    /// pixdim the affine's column norms. Integer types are written unscaled when every value is a
    /// whole number in range, with the volume's own scl_slope/scl_inter when it was read with them,
    /// and otherwise with a slope/intercept that spans the type's range (lossy, as any reader would).
    public static func write(_ volume: Volume, to path: String, options: NIfTIWriteOptions = NIfTIWriteOptions()) throws
    {
        let lower = path.lowercased()
        let gz: Bool
        if lower.hasSuffix(".nii.gz") {
            gz = true
        } else if lower.hasSuffix(".nii") {
            gz = false
        } else {
            throw NIfTIError.cannotWrite(path: path, reason: "the name must end in .nii or .nii.gz")
        }
        let type = options.datatype ?? volume.storedType
        if type == .rgb24 && volume.frames % 3 != 0 {
            throw NIfTIError.cannotWrite(path: path, reason: "rgb24 needs 3 frames (R, G, B) per time point")
        }
        let encodedCount = type == .rgb24 ? volume.count / 3 : volume.count
        let (dataBytes, o) = encodedCount.multipliedReportingOverflow(by: type.byteSize)
        guard !o, dataBytes <= Runtime.maxMemory else {
            throw NIfTIError.tooLarge(path: path, bytes: o ? Int.max : dataBytes, limit: Runtime.maxMemory)
        }
        var h = header(for: volume, type: type, options: options)
        let offset = h.headerSize + 4
        h.voxOffset = Double(offset)
        let headerBytes = h.encoded() + [0, 0, 0, 0]  // header + "no extensions"
        var file = [UInt8](unsafeUninitializedCapacity: offset + dataBytes) { b, initialized in
            // The voxel bytes are all written by `encode` below.
            _ = b.initialize(from: headerBytes)
            initialized = offset + dataBytes
        }
        let scaling = IntensityScaling(slope: h.sclSlope, intercept: h.sclInter)
        volume.voxels.withUnsafeBufferPointer { src in
            file.withUnsafeMutableBytes { dst in
                VoxelCodec.encode(
                    src, type: type, scaling: scaling, frames3: volume.frames,
                    into: UnsafeMutableRawBufferPointer(rebasing: dst[offset...]))
            }
        }
        try store(file, to: path, gz: gz, level: options.compressionLevel)
    }

    /// Writes stored values exactly as they were read — `storedBytes` in host byte order, of
    /// `volume.storedType` (e.g. `NIfTIFile.rawData()`) — with the volume's geometry and its
    /// `scaling` as scl_slope/scl_inter. This is the exact round trip for every datatype, including
    /// int32/int64/uint32/uint64 and float64 values that Float32 voxels cannot hold.
    public static func write(_ volume: Volume, storedBytes: [UInt8], to path: String, options: NIfTIWriteOptions = NIfTIWriteOptions()) throws {
        let lower = path.lowercased()
        guard lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz") else {
            throw NIfTIError.cannotWrite(path: path, reason: "the name must end in .nii or .nii.gz")
        }
        let type = volume.storedType
        let encodedCount = type == .rgb24 ? volume.count / 3 : volume.count
        guard storedBytes.count == encodedCount * type.byteSize else {
            throw NIfTIError.cannotWrite(path: path, reason: "\(storedBytes.count) stored bytes for \(encodedCount) \(type.rawValue) values")
        }
        var o = options
        o.datatype = type
        var h = header(for: volume, type: type, options: o)
        h.sclSlope = type == .rgb24 ? 1 : volume.scaling.slope
        h.sclInter = type == .rgb24 ? 0 : volume.scaling.intercept
        h.voxOffset = Double(h.headerSize + 4)
        var file = h.encoded() + [0, 0, 0, 0]
        if hostOrder == .little {
            file += storedBytes
        } else {
            // NIfTI files MedVox writes are little-endian: swap each value's bytes.
            let n = type == .rgb24 ? 1 : type.byteSize
            for v in stride(from: 0, to: storedBytes.count, by: n) { file += storedBytes[v..<(v + n)].reversed() }
        }
        try store(file, to: path, gz: lower.hasSuffix(".gz"), level: options.compressionLevel)
    }

    /// Writes the assembled file atomically, gzip-compressed when `gz`.
    static func store(_ file: [UInt8], to path: String, gz: Bool, level: Int) throws {
        try AtomicFile.write(to: path) { sink in
            try file.withUnsafeBytes { buf in
                if gz {
                    try Gzip.compress(buf, level: level) { try sink.write($0) }
                } else {
                    try sink.write(buf)
                }
            }
        }
    }

    /// The header MedVox writes for `volume` stored as `type`.
    public static func header(for volume: Volume, type: ScalarType, options: NIfTIWriteOptions) -> NIfTIHeader {
        var h = NIfTIHeader()
        var dims = volume.shape3
        var frames = volume.frames
        if type == .rgb24 { frames /= 3 }
        if frames > 1 { dims.append(frames) }
        let needs2 = dims.contains { $0 > Int(Int16.max) }
        h.version = options.version ?? (needs2 ? 2 : 1)
        h.magic = h.version == 2 ? "n+2" : "n+1"
        h.dim = [dims.count] + dims + [Int](repeating: 1, count: 7 - dims.count)
        h.datatype = NIfTIDatatype.code(of: type)
        h.bitpix = type.byteSize * 8
        let q = NIfTIGeometry.quaternion(of: volume.affine)
        h.pixdim = [q.qfac] + q.zooms + [volume.timeStep ?? 1, 1, 1, 1]
        h.quatern = [q.b, q.c, q.d]
        h.qoffset = volume.affine.translation
        h.srow = volume.affine.rows.prefix(3).map { $0 }
        h.qformCode = options.qformCode
        h.sformCode = options.sformCode
        h.xyztUnits = 2 | 8  // mm, seconds
        h.descrip = options.description
        let s = storageScaling(volume, type: type)
        h.sclSlope = s.slope
        h.sclInter = s.intercept
        return h
    }

    /// The scl_slope/scl_inter used to store `volume` as `type` (identity when not needed).
    public static func storageScaling(_ volume: Volume, type: ScalarType) -> IntensityScaling {
        guard let range = type.integerRange, type != .rgb24 else { return .identity }
        if type == volume.storedType && !volume.scaling.isIdentity { return volume.scaling }
        // Range and integrality of the finite values, in parallel chunks.
        let parts = max(1, min(Runtime.threads, volume.count / 65536))
        var stats = [(lo: Float, hi: Float, whole: Bool)](repeating: (.infinity, -.infinity, true), count: parts)
        volume.voxels.withUnsafeBufferPointer { v in
            stats.withUnsafeMutableBufferPointer { out in
                let o = out.baseAddress!
                parallelFor(parts) { p in
                    var lo = Float.infinity, hi = -Float.infinity
                    var whole = true
                    for i in chunkRange(v.count, part: p, of: parts) {
                        let x = v[i]
                        guard x.isFinite else { continue }
                        lo = min(lo, x)
                        hi = max(hi, x)
                        // Floats of magnitude ≥ 2²³ are whole; below, compare with the truncation.
                        if abs(x) < 8_388_608 && Float(Int32(x)) != x { whole = false }
                    }
                    o[p] = (lo, hi, whole)
                }
            }
        }
        let lo = stats.map(\.lo).min()!, hi = stats.map(\.hi).max()!
        let whole = stats.allSatisfy(\.whole)
        guard lo <= hi else { return .identity }
        if whole && Double(lo) >= range.lowerBound && Double(hi) <= range.upperBound { return .identity }
        // Span the type's range (keeping a margin of one step for rounding).
        let span = range.upperBound - range.lowerBound
        let slope = hi > lo ? (Double(hi) - Double(lo)) / (span - 2) : 1
        let inter = Double(lo) - slope * (range.lowerBound + 1)
        return IntensityScaling(slope: slope, intercept: inter)
    }
}
