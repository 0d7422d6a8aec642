import MedVoxCore
import MedVoxIO

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
