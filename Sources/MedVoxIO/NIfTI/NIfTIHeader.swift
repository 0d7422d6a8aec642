import Foundation
import MedVoxCore

/// The fields of a NIfTI header, read into one version-independent value.
///
/// Both layouts are declared once, as tables (`NIfTIField.nifti1`, `.nifti2`) giving each field's
/// byte offset, type and count; parsing and writing walk those tables. Sources: the NIfTI-1
/// header `nifti1.h` (https://nifti.nimh.nih.gov/pub/dist/src/niftilib/nifti1.h) and the NIfTI-2
/// header `nifti2.h`; nibabel `nifti1.py` `header_dtd` and `nifti2.py`.
public struct NIfTIHeader: Equatable, Sendable {
    /// 1 or 2.
    public var version: Int = 1
    public var byteOrder: ByteOrder = .little
    /// dim[0...7]: dim[0] is the number of dimensions, dim[1...] the sizes.
    public var dim: [Int] = [3, 1, 1, 1, 1, 1, 1, 1]
    public var intentP: [Double] = [0, 0, 0]
    public var intentCode: Int = 0
    public var intentName: String = ""
    /// NIfTI datatype code (see `NIfTIDatatype`).
    public var datatype: Int = 16
    public var bitpix: Int = 32
    public var sliceStart: Int = 0
    public var sliceEnd: Int = 0
    public var sliceCode: Int = 0
    public var sliceDuration: Double = 0
    /// pixdim[0] is qfac (±1); pixdim[1...] the voxel sizes (in `xyztUnits`).
    public var pixdim: [Double] = [1, 1, 1, 1, 1, 1, 1, 1]
    /// Byte offset of the voxel data in the data file.
    public var voxOffset: Double = 352
    public var sclSlope: Double = 1
    public var sclInter: Double = 0
    public var xyztUnits: Int = 0
    public var calMax: Double = 0
    public var calMin: Double = 0
    public var toffset: Double = 0
    public var descrip: String = ""
    public var auxFile: String = ""
    public var qformCode: Int = 0
    public var sformCode: Int = 0
    /// quatern_b, quatern_c, quatern_d.
    public var quatern: [Double] = [0, 0, 0]
    /// qoffset_x, qoffset_y, qoffset_z.
    public var qoffset: [Double] = [0, 0, 0]
    /// srow_x, srow_y, srow_z (each 4 values): the first three rows of the sform affine.
    public var srow: [[Double]] = [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    public var dimInfo: Int = 0
    /// "n+1", "ni1", "n+2" or "ni2" (single file vs. .hdr/.img pair).
    public var magic: String = "n+1"
    /// Header extensions present after the header (code and size in bytes of each).
    public var extensions: [(code: Int, size: Int)] = []

    public init() {}

    public static func == (a: NIfTIHeader, b: NIfTIHeader) -> Bool {
        a.version == b.version && a.byteOrder == b.byteOrder && a.dim == b.dim && a.intentP == b.intentP
            && a.intentCode == b.intentCode && a.intentName == b.intentName && a.datatype == b.datatype
            && a.bitpix == b.bitpix && a.sliceStart == b.sliceStart && a.sliceEnd == b.sliceEnd
            && a.sliceCode == b.sliceCode && a.sliceDuration == b.sliceDuration && a.pixdim == b.pixdim
            && a.voxOffset == b.voxOffset && a.sclSlope.bitPattern == b.sclSlope.bitPattern
            && a.sclInter.bitPattern == b.sclInter.bitPattern && a.xyztUnits == b.xyztUnits
            && a.calMax == b.calMax && a.calMin == b.calMin && a.toffset == b.toffset && a.descrip == b.descrip
            && a.auxFile == b.auxFile && a.qformCode == b.qformCode && a.sformCode == b.sformCode
            && a.quatern == b.quatern && a.qoffset == b.qoffset && a.srow == b.srow && a.dimInfo == b.dimInfo
            && a.magic == b.magic && a.extensions.map(\.code) == b.extensions.map(\.code)
            && a.extensions.map(\.size) == b.extensions.map(\.size)
    }

    /// Size in bytes of the fixed header: 348 (NIfTI-1) or 540 (NIfTI-2).
    public var headerSize: Int { version == 2 ? 540 : 348 }
    /// True for the .hdr/.img pair layout ("ni1"/"ni2").
    public var isPair: Bool { magic.hasPrefix("ni") }
}

/// NIfTI datatype codes (nifti1.h `NIFTI_TYPE_*`): the table of codes, names and sizes.
public enum NIfTIDatatype {
    /// code → (name, bits per voxel, the MedVox type it reads into; nil when unsupported).
    public static let table: [Int: (name: String, bitpix: Int, type: ScalarType?)] = [
        1: ("binary", 1, nil),
        2: ("uint8", 8, .uint8),
        4: ("int16", 16, .int16),
        8: ("int32", 32, .int32),
        16: ("float32", 32, .float32),
        32: ("complex64", 64, nil),
        64: ("float64", 64, .float64),
        128: ("rgb24", 24, .rgb24),
        256: ("int8", 8, .int8),
        512: ("uint16", 16, .uint16),
        768: ("uint32", 32, .uint32),
        1024: ("int64", 64, .int64),
        1280: ("uint64", 64, .uint64),
        1536: ("float128", 128, nil),
        1792: ("complex128", 128, nil),
        2048: ("complex256", 256, nil),
        2304: ("rgba32", 32, nil),
    ]

    /// The NIfTI code of a MedVox scalar type.
    public static func code(of type: ScalarType) -> Int {
        table.first { $0.value.type == type }!.key
    }

    /// A readable name for a code ("int16", or "unknown (code 99)").
    public static func name(_ code: Int) -> String { table[code]?.name ?? "unknown (code \(code))" }
}

/// Spatial units (xyzt_units & 7) and their size in millimetres; temporal units (xyzt_units & 0x38)
/// in seconds. NIFTI_UNITS_* in nifti1.h.
public enum NIfTIUnits {
    public static let spatialToMM: [Int: Double] = [0: 1, 1: 1000, 2: 1, 3: 0.001]
    public static let spatialNames: [Int: String] = [0: "unknown", 1: "m", 2: "mm", 3: "µm"]
    public static let temporalToSeconds: [Int: Double] = [0: 1, 8: 1, 16: 0.001, 24: 0.000001]
}

/// Names of the qform/sform codes (NIFTI_XFORM_*).
public enum NIfTIXform {
    public static let names: [Int: String] = [
        0: "unknown", 1: "scanner", 2: "aligned", 3: "talairach", 4: "mni_152", 5: "template",
    ]
}

// MARK: - The layout tables

/// One field of the binary header: where it is and what it holds.
public enum NIfTIField: CaseIterable, Sendable {
    case sizeofHdr, magic, dimInfo, dim, intentP1, intentP2, intentP3, intentCode, datatype, bitpix
    case sliceStart, pixdim, voxOffset, sclSlope, sclInter, sliceEnd, sliceCode, xyztUnits
    case calMax, calMin, sliceDuration, toffset, descrip, auxFile, qformCode, sformCode
    case quaternB, quaternC, quaternD, qoffsetX, qoffsetY, qoffsetZ, srowX, srowY, srowZ, intentName

    /// Storage kind of a field.
    public enum Kind: Sendable { case i8, i16, i32, i64, f32, f64, chars }

    /// Byte offset, kind and element count.
    public struct Layout: Sendable {
        public let offset: Int
        public let kind: Kind
        public let count: Int
        init(_ offset: Int, _ kind: Kind, _ count: Int = 1) {
            self.offset = offset
            self.kind = kind
            self.count = count
        }
    }

    /// NIfTI-1 (348 bytes). Analyze-era fields (data_type, db_name, extents, session_error,
    /// regular, glmax, glmin) are unused and written as zero.
    public static let nifti1: [NIfTIField: Layout] = [
        .sizeofHdr: Layout(0, .i32),  //   int   sizeof_hdr = 348
        //                                 4 data_type[10], 14 db_name[18], 32 extents, 36 session_error, 38 regular
        .dimInfo: Layout(39, .i8),  //     char  dim_info: frequency/phase/slice encoding dims
        .dim: Layout(40, .i16, 8),  //     short dim[8]
        .intentP1: Layout(56, .f32),  //   float intent_p1
        .intentP2: Layout(60, .f32),  //   float intent_p2
        .intentP3: Layout(64, .f32),  //   float intent_p3
        .intentCode: Layout(68, .i16),  // short intent_code
        .datatype: Layout(70, .i16),  //   short datatype
        .bitpix: Layout(72, .i16),  //     short bitpix
        .sliceStart: Layout(74, .i16),  // short slice_start
        .pixdim: Layout(76, .f32, 8),  //  float pixdim[8]: qfac, voxel sizes, TR
        .voxOffset: Layout(108, .f32),  // float vox_offset
        .sclSlope: Layout(112, .f32),  //  float scl_slope
        .sclInter: Layout(116, .f32),  //  float scl_inter
        .sliceEnd: Layout(120, .i16),  //  short slice_end
        .sliceCode: Layout(122, .i8),  //  char  slice_code
        .xyztUnits: Layout(123, .i8),  //  char  xyzt_units
        .calMax: Layout(124, .f32),  //    float cal_max
        .calMin: Layout(128, .f32),  //    float cal_min
        .sliceDuration: Layout(132, .f32),  // float slice_duration
        .toffset: Layout(136, .f32),  //   float toffset; 140 glmax, 144 glmin
        .descrip: Layout(148, .chars, 80),  // char descrip[80]
        .auxFile: Layout(228, .chars, 24),  // char aux_file[24]
        .qformCode: Layout(252, .i16),  // short qform_code
        .sformCode: Layout(254, .i16),  // short sform_code
        .quaternB: Layout(256, .f32),  //  float quatern_b
        .quaternC: Layout(260, .f32),  //  float quatern_c
        .quaternD: Layout(264, .f32),  //  float quatern_d
        .qoffsetX: Layout(268, .f32),  //  float qoffset_x
        .qoffsetY: Layout(272, .f32),  //  float qoffset_y
        .qoffsetZ: Layout(276, .f32),  //  float qoffset_z
        .srowX: Layout(280, .f32, 4),  //  float srow_x[4]
        .srowY: Layout(296, .f32, 4),  //  float srow_y[4]
        .srowZ: Layout(312, .f32, 4),  //  float srow_z[4]
        .intentName: Layout(328, .chars, 16),  // char intent_name[16]
        .magic: Layout(344, .chars, 4),  // char magic[4]: "n+1\0" or "ni1\0"
    ]

    /// NIfTI-2 (540 bytes): 64-bit sizes and offsets, double-precision geometry.
    public static let nifti2: [NIfTIField: Layout] = [
        .sizeofHdr: Layout(0, .i32),  //   int     sizeof_hdr = 540
        .magic: Layout(4, .chars, 8),  //  char    magic[8]: "n+2\0\r\n\032\n" or "ni2\0..."
        .datatype: Layout(12, .i16),  //   short   datatype
        .bitpix: Layout(14, .i16),  //     short   bitpix
        .dim: Layout(16, .i64, 8),  //     int64   dim[8]
        .intentP1: Layout(80, .f64),  //   double  intent_p1
        .intentP2: Layout(88, .f64),  //   double  intent_p2
        .intentP3: Layout(96, .f64),  //   double  intent_p3
        .pixdim: Layout(104, .f64, 8),  // double  pixdim[8]
        .voxOffset: Layout(168, .i64),  // int64   vox_offset
        .sclSlope: Layout(176, .f64),  //  double  scl_slope
        .sclInter: Layout(184, .f64),  //  double  scl_inter
        .calMax: Layout(192, .f64),  //    double  cal_max
        .calMin: Layout(200, .f64),  //    double  cal_min
        .sliceDuration: Layout(208, .f64),  // double slice_duration
        .toffset: Layout(216, .f64),  //   double  toffset
        .sliceStart: Layout(224, .i64),  // int64  slice_start
        .sliceEnd: Layout(232, .i64),  //  int64   slice_end
        .descrip: Layout(240, .chars, 80),  // char descrip[80]
        .auxFile: Layout(320, .chars, 24),  // char aux_file[24]
        .qformCode: Layout(344, .i32),  // int     qform_code
        .sformCode: Layout(348, .i32),  // int     sform_code
        .quaternB: Layout(352, .f64),  //  double  quatern_b
        .quaternC: Layout(360, .f64),  //  double  quatern_c
        .quaternD: Layout(368, .f64),  //  double  quatern_d
        .qoffsetX: Layout(376, .f64),  //  double  qoffset_x
        .qoffsetY: Layout(384, .f64),  //  double  qoffset_y
        .qoffsetZ: Layout(392, .f64),  //  double  qoffset_z
        .srowX: Layout(400, .f64, 4),  //  double  srow_x[4]
        .srowY: Layout(432, .f64, 4),  //  double  srow_y[4]
        .srowZ: Layout(464, .f64, 4),  //  double  srow_z[4]
        .sliceCode: Layout(496, .i32),  // int     slice_code
        .xyztUnits: Layout(500, .i32),  // int     xyzt_units
        .intentCode: Layout(504, .i32),  // int    intent_code
        .intentName: Layout(508, .chars, 16),  // char intent_name[16]
        .dimInfo: Layout(524, .i8),  //    char    dim_info; 525 unused_str[15]
    ]

    public static func table(version: Int) -> [NIfTIField: Layout] { version == 2 ? nifti2 : nifti1 }
}

/// Reads and writes fields of a header buffer through the layout tables.
struct NIfTIFieldCodec {
    var table: [NIfTIField: NIfTIField.Layout]
    var order: ByteOrder

    func numbers(_ bytes: [UInt8], _ f: NIfTIField) throws -> [Double] {
        let l = table[f]!
        var r = ByteReader(bytes, order: order, offset: l.offset)
        return try (0..<l.count).map { _ -> Double in
            switch l.kind {
            case .i8: return Double(Int8(bitPattern: try r.uint8()))
            case .i16: return Double(try r.int16())
            case .i32: return Double(try r.int32())
            case .i64: return Double(try r.int64())
            case .f32: return Double(try r.float32())
            case .f64: return try r.float64()
            case .chars: return Double(try r.uint8())
            }
        }
    }

    func ints(_ bytes: [UInt8], _ f: NIfTIField) throws -> [Int] {
        let l = table[f]!
        var r = ByteReader(bytes, order: order, offset: l.offset)
        return try (0..<l.count).map { _ -> Int in
            switch l.kind {
            case .i8: return Int(Int8(bitPattern: try r.uint8()))
            case .i16: return Int(try r.int16())
            case .i32: return Int(try r.int32())
            case .i64: return Int(try r.int64())
            default: return Int(try numbers(bytes, f)[0])
            }
        }
    }

    func number(_ bytes: [UInt8], _ f: NIfTIField) throws -> Double { try numbers(bytes, f)[0] }
    func int(_ bytes: [UInt8], _ f: NIfTIField) throws -> Int { try ints(bytes, f)[0] }

    func text(_ bytes: [UInt8], _ f: NIfTIField) throws -> String {
        let l = table[f]!
        var r = ByteReader(bytes, order: order, offset: l.offset)
        return try r.string(l.count)
    }

    /// Writes `values` into the field (numbers converted to the field's type).
    func set(_ bytes: inout [UInt8], _ f: NIfTIField, _ values: [Double]) {
        let l = table[f]!
        var w = ByteWriter(order: order)
        for v in values.prefix(l.count) {
            switch l.kind {
            case .i8: w.uint8(UInt8(bitPattern: Int8(clamping: Int(v))))
            case .i16: w.int16(Int16(clamping: Int(v)))
            case .i32: w.int32(Int32(clamping: Int(v)))
            case .i64: w.int64(Int64(v))
            case .f32: w.float32(Float(v))
            case .f64: w.float64(v)
            case .chars: w.uint8(UInt8(clamping: Int(v)))
            }
        }
        bytes.replaceSubrange(l.offset..<(l.offset + w.bytes.count), with: w.bytes)
    }

    func setText(_ bytes: inout [UInt8], _ f: NIfTIField, _ s: String) {
        let l = table[f]!
        var w = ByteWriter(order: order)
        w.string(s, width: l.count)
        bytes.replaceSubrange(l.offset..<(l.offset + l.count), with: w.bytes)
    }
}

extension NIfTIHeader {
    /// Parses a header from its first bytes (at least 348 for NIfTI-1, 540 for NIfTI-2), detecting
    /// the version and byte order from sizeof_hdr. `path` names the file in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws -> NIfTIHeader {
        guard bytes.count >= 4 else { throw NIfTIError.notNIfTI(path: path, reason: "file is shorter than a header") }
        var version = 0
        var order = ByteOrder.little
        for (v, size) in [(1, 348), (2, 540)] {
            for o in [ByteOrder.little, .big] {
                var r = ByteReader(bytes, order: o)
                if (try? r.int32()) == Int32(size) {
                    version = v
                    order = o
                }
            }
        }
        guard version > 0 else {
            throw NIfTIError.notNIfTI(path: path, reason: "sizeof_hdr is neither 348 (NIfTI-1) nor 540 (NIfTI-2)")
        }
        var h = NIfTIHeader()
        h.version = version
        h.byteOrder = order
        guard bytes.count >= h.headerSize else {
            throw NIfTIError.truncated(path: path, what: "header", needed: h.headerSize, available: bytes.count)
        }
        let c = NIfTIFieldCodec(table: NIfTIField.table(version: version), order: order)
        do {
            h.magic = try c.text(bytes, .magic)
            h.dim = try c.ints(bytes, .dim)
            h.intentP = [
                try c.number(bytes, .intentP1), try c.number(bytes, .intentP2), try c.number(bytes, .intentP3),
            ]
            h.intentCode = try c.int(bytes, .intentCode)
            h.intentName = try c.text(bytes, .intentName)
            h.datatype = try c.int(bytes, .datatype)
            h.bitpix = try c.int(bytes, .bitpix)
            h.sliceStart = try c.int(bytes, .sliceStart)
            h.sliceEnd = try c.int(bytes, .sliceEnd)
            h.sliceCode = try c.int(bytes, .sliceCode)
            h.sliceDuration = try c.number(bytes, .sliceDuration)
            h.pixdim = try c.numbers(bytes, .pixdim)
            h.voxOffset = try c.number(bytes, .voxOffset)
            h.sclSlope = try c.number(bytes, .sclSlope)
            h.sclInter = try c.number(bytes, .sclInter)
            h.xyztUnits = try c.int(bytes, .xyztUnits)
            h.calMax = try c.number(bytes, .calMax)
            h.calMin = try c.number(bytes, .calMin)
            h.toffset = try c.number(bytes, .toffset)
            h.descrip = try c.text(bytes, .descrip)
            h.auxFile = try c.text(bytes, .auxFile)
            h.qformCode = try c.int(bytes, .qformCode)
            h.sformCode = try c.int(bytes, .sformCode)
            h.quatern = [
                try c.number(bytes, .quaternB), try c.number(bytes, .quaternC), try c.number(bytes, .quaternD),
            ]
            h.qoffset = [
                try c.number(bytes, .qoffsetX), try c.number(bytes, .qoffsetY), try c.number(bytes, .qoffsetZ),
            ]
            h.srow = [try c.numbers(bytes, .srowX), try c.numbers(bytes, .srowY), try c.numbers(bytes, .srowZ)]
            h.dimInfo = try c.int(bytes, .dimInfo) & 0xFF
        } catch let e as ByteReader.TruncatedData {
            throw NIfTIError.truncated(path: path, what: "header", needed: e.offset + e.wanted, available: e.available)
        }
        h.xyztUnits &= 0xFF
        let magic3 = String(h.magic.prefix(3))
        guard ["n+1", "ni1", "n+2", "ni2"].contains(magic3), magic3.hasSuffix(String(version)) else {
            let shown = h.magic.isEmpty ? "empty" : "'\(h.magic.prefix(8))'"
            throw NIfTIError.notNIfTI(
                path: path, reason: "magic is \(shown), not NIfTI-\(version)'s (an Analyze 7.5 header is not supported)"
            )
        }
        h.magic = magic3
        return h
    }

    /// The fixed header bytes (348 or 540), in `byteOrder`.
    public func encoded() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: headerSize)
        let c = NIfTIFieldCodec(table: NIfTIField.table(version: version), order: byteOrder)
        c.set(&b, .sizeofHdr, [Double(headerSize)])
        if version == 2 {
            var m = Array(magic.utf8.prefix(3)) + [0, 0x0D, 0x0A, 0x1A, 0x0A]
            m = Array(m.prefix(8))
            b.replaceSubrange(4..<12, with: m)
        } else {
            c.setText(&b, .magic, magic)
            b[38] = UInt8(ascii: "r")  // "regular", as nibabel and FSL write
        }
        c.set(&b, .dim, dim.map(Double.init))
        c.set(&b, .intentP1, [intentP[0]])
        c.set(&b, .intentP2, [intentP[1]])
        c.set(&b, .intentP3, [intentP[2]])
        c.set(&b, .intentCode, [Double(intentCode)])
        c.setText(&b, .intentName, intentName)
        c.set(&b, .datatype, [Double(datatype)])
        c.set(&b, .bitpix, [Double(bitpix)])
        c.set(&b, .sliceStart, [Double(sliceStart)])
        c.set(&b, .sliceEnd, [Double(sliceEnd)])
        c.set(&b, .sliceCode, [Double(sliceCode)])
        c.set(&b, .sliceDuration, [sliceDuration])
        c.set(&b, .pixdim, pixdim)
        c.set(&b, .voxOffset, [voxOffset])
        c.set(&b, .sclSlope, [sclSlope])
        c.set(&b, .sclInter, [sclInter])
        c.set(&b, .xyztUnits, [Double(xyztUnits)])
        c.set(&b, .calMax, [calMax])
        c.set(&b, .calMin, [calMin])
        c.set(&b, .toffset, [toffset])
        c.setText(&b, .descrip, descrip)
        c.setText(&b, .auxFile, auxFile)
        c.set(&b, .qformCode, [Double(qformCode)])
        c.set(&b, .sformCode, [Double(sformCode)])
        c.set(&b, .quaternB, [quatern[0]])
        c.set(&b, .quaternC, [quatern[1]])
        c.set(&b, .quaternD, [quatern[2]])
        c.set(&b, .qoffsetX, [qoffset[0]])
        c.set(&b, .qoffsetY, [qoffset[1]])
        c.set(&b, .qoffsetZ, [qoffset[2]])
        c.set(&b, .srowX, srow[0])
        c.set(&b, .srowY, srow[1])
        c.set(&b, .srowZ, srow[2])
        c.set(&b, .dimInfo, [Double(dimInfo)])
        return b
    }
}
