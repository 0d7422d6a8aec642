import MedVoxCore

/// The fixed label colour table for overlays and legends (label 1 = first entry; labels past the
/// end cycle). Chosen to be distinct on grey anatomy: red, green, blue, yellow, cyan, magenta, …
public enum LabelColors {
    public static let table: [(UInt8, UInt8, UInt8)] = [
        (230, 25, 75), (60, 180, 75), (0, 130, 200), (255, 225, 25), (70, 240, 240), (240, 50, 230),
        (245, 130, 48), (145, 30, 180), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
        (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180),
        (0, 0, 128), (128, 128, 128),
    ]

    /// Colour of a positive label.
    public static func color(_ label: Int) -> (UInt8, UInt8, UInt8) { table[(max(label, 1) - 1) % table.count] }

    /// The legend for `labels` (positive, sorted, unique): label, colour and "#rrggbb".
    public static func legend(_ labels: [Int]) -> [(label: Int, rgb: (UInt8, UInt8, UInt8), hex: String)] {
        Array(Set(labels.filter { $0 > 0 })).sorted().map { l in
            let c = color(l)
            return (l, c, "#" + [c.0, c.1, c.2].map { hex2($0) }.joined())
        }
    }

    /// The distinct positive labels of a label map, sorted.
    public static func labels(in volume: Volume) -> [Int] {
        var seen = Set<Int>()
        for v in volume.voxels where v.isFinite && v >= 0.5 && v < 1e9 { seen.insert(Int(v.rounded())) }
        return seen.sorted()
    }

    static func hex2(_ v: UInt8) -> String {
        let d = Array("0123456789abcdef")
        return String([d[Int(v >> 4)], d[Int(v & 15)]])
    }
}
