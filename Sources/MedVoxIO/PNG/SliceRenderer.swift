import MedVoxCore

/// An 8-bit RGB picture (rows top to bottom), what the slice renderer and figures produce.
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// width × height × 3 bytes, R G B interleaved.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        if fill != (0, 0, 0) {
            for p in 0..<(width * height) { (pixels[3 * p], pixels[3 * p + 1], pixels[3 * p + 2]) = fill }
        }
    }

    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        get {
            let o = 3 * (y * width + x)
            return (pixels[o], pixels[o + 1], pixels[o + 2])
        }
        set {
            let o = 3 * (y * width + x)
            (pixels[o], pixels[o + 1], pixels[o + 2]) = newValue
        }
    }

    /// For the PNG writer.
    public var raster: RasterImage {
        RasterImage(width: width, height: height, channels: 3, bitDepth: 8, samples: pixels.map(UInt16.init))
    }

    /// Copies `other` with its top-left corner at (x, y) (clipped).
    public mutating func paste(_ other: RGBImage, x: Int, y: Int) {
        for yy in 0..<other.height where y + yy >= 0 && y + yy < height {
            for xx in 0..<other.width where x + xx >= 0 && x + xx < width {
                self[x + xx, y + yy] = other[xx, yy]
            }
        }
    }
}

/// Anatomical display planes of a volume in (closest) RAS orientation.
public enum Plane: String, CaseIterable, Sendable {
    /// Through k (superior–inferior axis): anterior at the top.
    case axial
    /// Through j (anterior–posterior axis): superior at the top.
    case coronal
    /// Through i (left–right axis): superior at the top, anterior on the left.
    case sagittal

    /// The RAS axis the plane cuts (0 = i/x, 1 = j/y, 2 = k/z).
    public var normalAxis: Int {
        switch self {
        case .axial: return 2
        case .coronal: return 1
        case .sagittal: return 0
        }
    }
}

/// Intensity window: values at or below `low` are black, at or above `high` white.
public struct DisplayWindow: Equatable, Sendable {
    public var low: Float
    public var high: Float
    public init(low: Float, high: Float) {
        self.low = low
        self.high = high
    }
    /// From a centre and width (as radiology viewers state them, e.g. 40,400 for CT soft tissue).
    public init(center: Float, width: Float) {
        low = center - width / 2
        high = center + width / 2
    }

    /// The 0.5th–99.5th percentile of the finite voxels (at most 2²⁰ evenly strided samples are
    /// used, so the result is deterministic and cheap).
    public static func automatic(_ voxels: [Float], lower: Double = 0.5, upper: Double = 99.5) -> DisplayWindow {
        let step = max(1, voxels.count / (1 << 20))
        var sample: [Float] = []
        sample.reserveCapacity(voxels.count / step + 1)
        var i = 0
        while i < voxels.count {
            if voxels[i].isFinite { sample.append(voxels[i]) }
            i += step
        }
        guard !sample.isEmpty else { return DisplayWindow(low: 0, high: 1) }
        sample.sort()
        func pct(_ p: Double) -> Float {
            let pos = p / 100 * Double(sample.count - 1)
            let lo = Int(pos.rounded(.down)), hi = min(lo + 1, sample.count - 1)
            let f = Float(pos - Double(lo))
            return sample[lo] * (1 - f) + sample[hi] * f
        }
        var w = DisplayWindow(low: pct(lower), high: pct(upper))
        if w.high <= w.low { w = DisplayWindow(low: sample.first!, high: max(sample.last!, sample.first! + 1)) }
        return w
    }

    /// Grey level 0–255.
    @inline(__always) public func grey(_ v: Float) -> UInt8 {
        guard v.isFinite else { return 0 }
        let t = (v - low) / (high - low)
        return UInt8(max(0, min(255, (t * 255).rounded())))
    }
}

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

/// Renders slices of a volume as RGB pictures, in anatomical display convention.
///
/// The volume (and overlay) are first reoriented to the closest RAS grid (permutation and flips
/// only). Radiological convention (default): the patient's right is on the picture's left in
/// axial and coronal views. Pixels are square in millimetres (anisotropic voxels are stretched
/// by nearest-neighbour resampling), and small pictures are enlarged by an integer factor.
///
/// ```swift
/// let r = try SliceRenderer(volume: t1)
/// try PNG.write(r.threePlane().raster, to: "preview.png")
/// ```
public struct SliceRenderer {
    public let volume: Volume
    public var window: DisplayWindow
    public var radiological: Bool
    public var overlay: Volume?
    public var overlayAlpha: Float
    /// Pictures narrower and shorter than this are enlarged by an integer factor.
    public var minimumSize: Int = 256

    /// - Parameters:
    ///   - volume: any orientation; 4D volumes show `frame`.
    ///   - overlay: a label map on the same voxel grid (label 0 is transparent).
    public init(
        volume: Volume, frame: Int = 0, window: DisplayWindow? = nil, radiological: Bool = true, overlay: Volume? = nil,
        overlayAlpha: Float = 0.5
    ) throws {
        var v = volume.frames > 1 ? volume.frame(min(max(frame, 0), volume.frames - 1)) : volume
        if let overlay {
            guard overlay.shape3 == volume.shape3 else {
                throw RenderError.overlayMismatch(
                    reason: "overlay dims \(overlay.shape3) differ from image dims \(volume.shape3)")
            }
            guard overlay.affine.isClose(to: volume.affine, tolerance: 1e-3 * max(1, volume.spacing.max() ?? 1)) else {
                throw RenderError.overlayMismatch(
                    reason: "overlay affine differs from the image's (not on the same grid)")
            }
        }
        let target = Orientation.ras
        v = v.reoriented(to: target)
        self.volume = v
        self.window = window ?? DisplayWindow.automatic(v.voxels)
        self.radiological = radiological
        self.overlay = overlay.map { ($0.frames > 1 ? $0.frame(0) : $0).reoriented(to: target) }
        self.overlayAlpha = overlayAlpha
    }

    /// Number of slices along the plane's normal.
    public func sliceCount(_ plane: Plane) -> Int { volume.shape3[plane.normalAxis] }

    /// One slice; `index` along the plane's normal axis in RAS order (nil: the centre).
    public func slice(_ plane: Plane, index: Int? = nil) -> RGBImage {
        let n = volume.shape3
        let s = min(max(index ?? n[plane.normalAxis] / 2, 0), n[plane.normalAxis] - 1)
        // Columns and rows of the picture: which RAS axis and direction each follows.
        let (colAxis, rowAxis): (Int, Int)
        var colReversed: Bool
        switch plane {
        case .axial: (colAxis, rowAxis, colReversed) = (0, 1, radiological)
        case .coronal: (colAxis, rowAxis, colReversed) = (0, 2, radiological)
        case .sagittal: (colAxis, rowAxis, colReversed) = (1, 2, true)
        }
        let cols = n[colAxis], rows = n[rowAxis]
        let sp = volume.spacing
        let cmm = sp[colAxis], rmm = sp[rowAxis]
        let pix = min(cmm, rmm)
        var w = max(1, Int((Double(cols) * cmm / pix).rounded()))
        var h = max(1, Int((Double(rows) * rmm / pix).rounded()))
        let zoom = max(1, minimumSize / max(w, h))
        w *= zoom
        h *= zoom
        var img = RGBImage(width: w, height: h)
        for y in 0..<h {
            // Top row is the highest index along the row axis (anterior / superior).
            let r = rows - 1 - min(rows - 1, y * rows / h)
            for x in 0..<w {
                var c = min(cols - 1, x * cols / w)
                if colReversed { c = cols - 1 - c }
                var ijk = [0, 0, 0]
                ijk[plane.normalAxis] = s
                ijk[colAxis] = c
                ijk[rowAxis] = r
                let idx = ijk[0] + n[0] * (ijk[1] + n[1] * ijk[2])
                let g = window.grey(volume.voxels[idx])
                var px = (g, g, g)
                if let overlay {
                    let l = overlay.voxels[idx]
                    if l.isFinite && l >= 0.5 {
                        let col = LabelColors.color(Int(l.rounded()))
                        let a = overlayAlpha
                        func mix(_ base: UInt8, _ top: UInt8) -> UInt8 {
                            UInt8(max(0, min(255, (Float(base) * (1 - a) + Float(top) * a).rounded())))
                        }
                        px = (mix(g, col.0), mix(g, col.1), mix(g, col.2))
                    }
                }
                img[x, y] = px
            }
        }
        return img
    }

    /// The default preview: axial, coronal and sagittal slices through `point` (RAS voxel indices;
    /// nil: the centre), side by side on black.
    public func threePlane(at point: [Int]? = nil) -> RGBImage {
        let planes: [Plane] = [.axial, .coronal, .sagittal]
        let tiles = planes.map { slice($0, index: point?[$0.normalAxis]) }
        return Figure.row(tiles, gap: 4)
    }

    /// `count` slices evenly spread through the volume along `plane`, in a near-square grid.
    public func montage(_ plane: Plane, count: Int) -> RGBImage {
        let n = sliceCount(plane)
        let k = max(1, min(count, n))
        let tiles = (0..<k).map { t -> RGBImage in
            slice(plane, index: Int((Double(t + 1) / Double(k + 1) * Double(n)).rounded(.down)))
        }
        let columns = Int(Double(k).squareRoot().rounded(.up))
        return Figure.grid(tiles, columns: columns, gap: 2)
    }
}

public enum RenderError: MedVoxError {
    case overlayMismatch(reason: String)
    /// A slice or frame index outside the image.
    case outOfRange(path: String, reason: String)
    public var description: String {
        switch self {
        case let .overlayMismatch(reason): return "cannot overlay labels: \(reason)"
        case let .outOfRange(path, reason): return "\(path): \(reason)"
        }
    }
}

/// Layout of pictures into figures.
public enum Figure {
    /// Pictures left to right, vertically centred, separated by `gap` pixels of `background`.
    public static func row(_ images: [RGBImage], gap: Int = 4, background: (UInt8, UInt8, UInt8) = (0, 0, 0))
        -> RGBImage
    {
        guard !images.isEmpty else { return RGBImage(width: 1, height: 1) }
        let w = images.map(\.width).reduce(0, +) + gap * (images.count - 1)
        let h = images.map(\.height).max()!
        var out = RGBImage(width: w, height: h, fill: background)
        var x = 0
        for im in images {
            out.paste(im, x: x, y: (h - im.height) / 2)
            x += im.width + gap
        }
        return out
    }

    /// Pictures in a grid of `columns`, row by row, each cell the size of the largest picture.
    public static func grid(
        _ images: [RGBImage], columns: Int, gap: Int = 2, background: (UInt8, UInt8, UInt8) = (0, 0, 0)
    ) -> RGBImage {
        guard !images.isEmpty else { return RGBImage(width: 1, height: 1) }
        let cols = max(1, min(columns, images.count))
        let rows = (images.count + cols - 1) / cols
        let cw = images.map(\.width).max()!, ch = images.map(\.height).max()!
        var out = RGBImage(width: cols * cw + (cols - 1) * gap, height: rows * ch + (rows - 1) * gap, fill: background)
        for (i, im) in images.enumerated() {
            let (r, c) = (i / cols, i % cols)
            out.paste(im, x: c * (cw + gap) + (cw - im.width) / 2, y: r * (ch + gap) + (ch - im.height) / 2)
        }
        return out
    }
}
