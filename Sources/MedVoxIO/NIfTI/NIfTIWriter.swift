import Foundation
import MedVoxCore

#if canImport(Glibc)
    import Glibc
#endif

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
