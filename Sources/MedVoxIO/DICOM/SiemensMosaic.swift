import Foundation
import MedVoxCore

/// Siemens CSA headers (private (0029,xx10) "SIEMENS CSA HEADER"): a table of named text items,
/// format CSA2 ("SV10") or CSA1. Parsed leniently and bounded by the element's length, as
/// nibabel's `nicom.csareader` reads them.
enum SiemensCSA {
    static let maxItems = 1000

    /// Tag name → text items. Nil when the bytes are not a CSA header.
    static func parse(_ b: [UInt8]) -> [String: [String]]? {
        var r = ByteReader(b, order: .little)
        var out: [String: [String]] = [:]
        do {
            let csa2 = b.count >= 4 && b[0] == 0x53 && b[1] == 0x56 && b[2] == 0x31 && b[3] == 0x30  // "SV10"
            if csa2 { try r.skip(8) }
            let nTags = Int(try r.uint32())
            _ = try r.uint32()  // 77
            guard nTags > 0 && nTags <= maxItems else { return nil }
            var tag0Items = 0
            for t in 0..<nTags {
                let name = try r.string(64)
                let vm = Int(try r.int32())
                _ = try r.string(4)  // VR
                _ = try r.int32()  // SyngoDT
                let nItems = Int(try r.int32())
                _ = try r.int32()
                guard nItems >= 0 && nItems <= maxItems else { return nil }
                if t == 1 { tag0Items = nItems }
                var items: [String] = []
                for _ in 0..<nItems {
                    let x0 = Int(try r.int32()), x1 = Int(try r.int32())
                    _ = try r.int32()
                    _ = try r.int32()
                    let len = csa2 ? x1 : x0 - tag0Items
                    guard len >= 0 && len <= r.remaining else { break }
                    let text = try r.string(len).trimmingCharacters(in: .whitespaces)
                    if !text.isEmpty && (vm == 0 || items.count < vm) { items.append(text) }
                    if len % 4 != 0 { try r.skip(min(4 - len % 4, r.remaining)) }
                }
                out[name] = items
            }
        } catch {
            return out.isEmpty ? nil : out
        }
        return out
    }
}

/// A Siemens mosaic: the slices of one volume tiled into one image, row by row.
public struct MosaicLayout: Sendable, Equatable {
    /// Slices in the mosaic (CSA NumberOfImagesInMosaic).
    public var count: Int
    /// Tiles per mosaic row and column: ⌈√count⌉.
    public var tilesPerRow: Int
    public var tileRows: Int
    public var tileColumns: Int
}

extension DICOMFile {
    /// The mosaic layout when this is a Siemens mosaic (ImageType MOSAIC and a CSA image header
    /// with NumberOfImagesInMosaic, or the older (0019,xx0A) element), else nil.
    public var mosaic: MosaicLayout? {
        guard dataset.strings(.imageType).contains(where: { $0.uppercased() == "MOSAIC" }) else { return nil }
        var n: Int? = csaImageHeader?["NumberOfImagesInMosaic"]?.first.flatMap { Int($0) }
        if n == nil, let block = privateBlock(group: 0x0019, creator: "SIEMENS MR HEADER") {
            n = dataset.int(DICOMTag(0x0019, block << 8 | 0x0A))
        }
        guard let count = n, count > 0, count <= 4096, let rows = dataset.int(.rows), let cols = dataset.int(.columns) else { return nil }
        let per = Int(Double(count).squareRoot().rounded(.up))
        guard rows % per == 0, cols % per == 0 else { return nil }
        return MosaicLayout(count: count, tilesPerRow: per, tileRows: rows / per, tileColumns: cols / per)
    }

    /// The CSA image header (0029,xx10), parsed.
    var csaImageHeader: [String: [String]]? {
        guard let block = privateBlock(group: 0x0029, creator: "SIEMENS CSA HEADER"),
              let e = dataset[DICOMTag(0x0029, block << 8 | 0x10)] else { return nil }
        return SiemensCSA.parse(e.bytes)
    }

    /// The element block (xx) a private creator reserved in `group` (PS3.5 §7.8.1).
    func privateBlock(group: UInt16, creator: String) -> UInt16? {
        for el in UInt16(0x10)...UInt16(0xFF) {
            let t = DICOMTag(group, el)
            guard dataset.contains(t) else { continue }
            if dataset.string(t)?.uppercased() == creator { return el }
        }
        return nil
    }

    /// The Image Pixel module as the series sees it: for a mosaic, one tile per frame.
    public func imageInfo() throws -> DICOMPixelInfo {
        var info = try pixelInfo()
        if let m = mosaic, info.numberOfFrames == 1 {
            info.mosaic = m
            info.rows = m.tileRows
            info.columns = m.tileColumns
            info.numberOfFrames = m.count
        }
        return info
    }

    /// Slices of a mosaic: ImagePositionPatient refers to the whole mosaic's first pixel; the
    /// first tile's is half the extra size further along rows and columns (nibabel's and
    /// dcm2niix's correction), and slice k lies k × spacing along the normal, whose sign the CSA
    /// SliceNormalVector gives.
    func mosaicSlices(_ base: DICOMSlice, _ m: MosaicLayout) -> [DICOMSlice] {
        guard let o = base.orientation, let p = base.position, let ps = base.pixelSpacing,
              let rows = dataset.int(.rows), let cols = dataset.int(.columns) else {
            return (0..<m.count).map { var s = base; s.frame = $0; return s }
        }
        let r = Array(o[0..<3]), c = Array(o[3..<6])
        var n = cross(r, c)
        if let v = csaImageHeader?["SliceNormalVector"]?.compactMap(Double.init), v.count == 3, dot(v, n) < 0 {
            n = n.map { -$0 }
        }
        let dr = Double(rows - m.tileRows) / 2, dc = Double(cols - m.tileColumns) / 2
        let first = (0..<3).map { p[$0] + c[$0] * ps[0] * dr + r[$0] * ps[1] * dc }
        let step = dataset.double(.spacingBetweenSlices) ?? base.sliceThickness ?? 1
        return (0..<m.count).map { k in
            var s = base
            s.frame = k
            s.position = (0..<3).map { first[$0] + Double(k) * step * n[$0] }
            return s
        }
    }
}

/// Routes the values of a whole mosaic image to one sink per requested tile.
struct MosaicSink<S: StoredValueSink>: StoredValueSink {
    var sinks: [S?]
    let layout: MosaicLayout
    let fullColumns: Int
    @inline(__always) mutating func put(_ i: Int, _ v: Int32) {
        let row = i / fullColumns, col = i % fullColumns
        let tile = (row / layout.tileRows) * layout.tilesPerRow + col / layout.tileColumns
        guard tile < sinks.count else { return }
        sinks[tile]?.put((row % layout.tileRows) * layout.tileColumns + col % layout.tileColumns, v)
    }
}
