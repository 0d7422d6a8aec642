import MedVoxIO

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
