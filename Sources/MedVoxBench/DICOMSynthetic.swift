import Foundation
import MedVoxCore
import MedVoxIO

/// Writes minimal synthetic DICOM CT series (Part 10, explicit VR little endian): the input of
/// `medvox bench dicom`. Mirrors Fixtures/dicom/make_dicom_fixtures.py --bench (the Python twin
/// used by Tools/bench/dicom_vs_dcm2niix.py).
public enum DICOMSynthetic {
    /// Writes `slices` files of `size`×`size` uint16 (BitsStored 12, RescaleIntercept −1024),
    /// 0.7 mm pixels, 1 mm apart, into `folder`.
    public static func writeCTSeries(to folder: String, size: Int, slices: Int) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let root = "1.2.826.0.1.3680043.10.1407.100"
        var pixels = [UInt8](repeating: 0, count: size * size * 2)
        for k in 0..<slices {
            var w = ByteWriter(order: .little, capacity: pixels.count + 2048)
            w.zeros(128)
            w.append(contentsOf: Array("DICM".utf8))
            var meta = ByteWriter(order: .little)
            func el(_ w: inout ByteWriter, _ g: UInt16, _ e: UInt16, _ vr: String, _ value: [UInt8]) {
                var v = value
                if v.count % 2 == 1 { v.append(vr == "UI" || vr == "OB" ? 0 : 0x20) }
                w.uint16(g)
                w.uint16(e)
                w.append(contentsOf: Array(vr.utf8))
                if ["OB", "OW", "SQ", "UN", "UT"].contains(vr) {
                    w.uint16(0)
                    w.uint32(UInt32(v.count))
                } else {
                    w.uint16(UInt16(v.count))
                }
                w.append(contentsOf: v)
            }
            func t(_ s: String) -> [UInt8] { Array(s.utf8) }
            func us(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
            let sop = "\(root).\(k + 1)"
            el(&meta, 0x0002, 0x0001, "OB", [0, 1])
            el(&meta, 0x0002, 0x0002, "UI", t("1.2.840.10008.5.1.4.1.1.2"))
            el(&meta, 0x0002, 0x0003, "UI", t(sop))
            el(&meta, 0x0002, 0x0010, "UI", t(TransferSyntax.explicitVRLittleEndianUID))
            el(&w, 0x0002, 0x0000, "UL", [UInt8](withUnsafeBytes(of: UInt32(meta.bytes.count).littleEndian, Array.init)))
            w.append(contentsOf: meta.bytes)
            el(&w, 0x0008, 0x0008, "CS", t("ORIGINAL\\PRIMARY\\AXIAL"))
            el(&w, 0x0008, 0x0016, "UI", t("1.2.840.10008.5.1.4.1.1.2"))
            el(&w, 0x0008, 0x0018, "UI", t(sop))
            el(&w, 0x0008, 0x0060, "CS", t("CT"))
            el(&w, 0x0008, 0x103E, "LO", t("bench CT"))
            el(&w, 0x0018, 0x0050, "DS", t("1"))
            el(&w, 0x0020, 0x000D, "UI", t("\(root).0.1"))
            el(&w, 0x0020, 0x000E, "UI", t("\(root).0"))
            el(&w, 0x0020, 0x0011, "IS", t("100"))
            el(&w, 0x0020, 0x0013, "IS", t(String(k + 1)))
            let o = -Double(size) * 0.35
            el(&w, 0x0020, 0x0032, "DS", t("\(o)\\\(o)\\\(Double(k) - 150)"))
            el(&w, 0x0020, 0x0037, "DS", t("1\\0\\0\\0\\1\\0"))
            el(&w, 0x0028, 0x0002, "US", us(1))
            el(&w, 0x0028, 0x0004, "CS", t("MONOCHROME2"))
            el(&w, 0x0028, 0x0010, "US", us(UInt16(size)))
            el(&w, 0x0028, 0x0011, "US", us(UInt16(size)))
            el(&w, 0x0028, 0x0030, "DS", t("0.7\\0.7"))
            el(&w, 0x0028, 0x0100, "US", us(16))
            el(&w, 0x0028, 0x0101, "US", us(12))
            el(&w, 0x0028, 0x0102, "US", us(11))
            el(&w, 0x0028, 0x0103, "US", us(0))
            el(&w, 0x0028, 0x1052, "DS", t("-1024"))
            el(&w, 0x0028, 0x1053, "DS", t("1"))
            let r2max = Double(size) * 0.4 * Double(size) * 0.4
            for y in 0..<size {
                for x in 0..<size {
                    let dx = Double(y) - Double(size) / 2, dy = Double(x) - Double(size) / 2
                    let v: UInt16 = dx * dx + dy * dy < r2max ? UInt16(1024 + 40 + (y + 3 * k) % 50) : 0
                    pixels[2 * (y * size + x)] = UInt8(v & 0xFF)
                    pixels[2 * (y * size + x) + 1] = UInt8(v >> 8)
                }
            }
            el(&w, 0x7FE0, 0x0010, "OW", pixels)
            try Data(w.bytes).write(to: URL(fileURLWithPath: folder + String(format: "/CT%04d.dcm", k + 1)))
        }
    }
}
