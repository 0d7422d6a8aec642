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
