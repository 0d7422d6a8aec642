import Foundation
import MedVoxCore

#if canImport(Glibc)
    import Glibc
#endif

/// A NIfTI-1 or NIfTI-2 image on disk: the header is parsed on `open`, the voxels are read only
/// when `rawData()` or `volume()` is called (rule 11 of STYLE.md).
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
        let (shape, type, bytes) = try voxelLayout(h, path: path)
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
        try checkDataFits(path: dataPath, gzip: dataGz, offset: offset, bytes: bytes, shape: shape, type: type)
        return NIfTIFile(
            path: path, dataPath: dataPath, header: h, storedType: type, shape: shape, dataOffset: offset,
            dataByteCount: bytes, isHeaderCompressed: gz, isDataCompressed: dataGz)
    }

    /// The voxel grid (dim[1...dim[0]]), stored type and byte count a header declares, checked
    /// before anything is allocated (sizes, a known datatype, counts that overflow), and its
    /// vox_offset checked to be a byte offset.
    static func voxelLayout(_ h: NIfTIHeader, path: String) throws -> (shape: [Int], type: ScalarType, bytes: Int) {
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
        return (shape, type, bytes)
    }

    /// Checks that the data file can hold `bytes` of voxels at `offset`: within its size, or, for a
    /// gzip file, within what its size can expand to.
    static func checkDataFits(path dataPath: String, gzip dataGz: Bool, offset: Int, bytes: Int, shape: [Int], type: ScalarType) throws {
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
