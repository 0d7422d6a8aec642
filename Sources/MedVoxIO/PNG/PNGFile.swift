import CPNG
import Foundation
import MedVoxCore

// The one file of MedVoxIO that calls libpng (STYLE.md #1), through its "simplified" API
// (png_image_*), which reports errors in a struct instead of longjmp — safe to call from Swift.

/// Errors reading or writing PNG.
public enum PNGError: MedVoxError {
    case cannotEncode(path: String, reason: String)
    case cannotDecode(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotEncode(path, reason): return "\(path): cannot write PNG: \(reason)"
        case let .cannotDecode(path, reason): return "\(path): not a readable PNG: \(reason)"
        }
    }
}

/// A raster image: `channels` samples per pixel (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA), rows top
/// to bottom, samples in `bitDepth` 8 or 16 bits (stored in `UInt16` either way).
public struct RasterImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var bitDepth: Int
    /// width × height × channels samples, row-major, interleaved.
    public var samples: [UInt16]

    public init(width: Int, height: Int, channels: Int, bitDepth: Int = 8, samples: [UInt16]? = nil) {
        precondition((1...4).contains(channels) && (bitDepth == 8 || bitDepth == 16) && width > 0 && height > 0)
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        let n = width * height * channels
        if let samples { precondition(samples.count == n, "sample count \(samples.count) != \(n)") }
        self.samples = samples ?? [UInt16](repeating: 0, count: n)
    }
}

/// PNG encoding and decoding through libpng.
///
/// ```swift
/// try PNG.write(RasterImage(width: 2, height: 1, channels: 1, samples: [0, 255]), to: "a.png")
/// ```
public enum PNG {
    // png_image formats (png.h PNG_FORMAT_FLAG_*).
    static let flagAlpha: UInt32 = 0x01
    static let flagColor: UInt32 = 0x02
    static let flagLinear: UInt32 = 0x04

    static func format(channels: Int, bitDepth: Int) -> UInt32 {
        var f: UInt32 = 0
        if channels == 2 || channels == 4 { f |= flagAlpha }
        if channels >= 3 { f |= flagColor }
        if bitDepth == 16 { f |= flagLinear }
        return f
    }

    /// PNG bytes of `image`. 16-bit samples are stored unchanged (libpng marks them linear,
    /// gAMA 1.0); 16-bit images with alpha go through libpng's premultiplied form and may
    /// differ by one unit in colour where alpha < 65535.
    public static func encode(_ image: RasterImage, path: String = "PNG") throws -> [UInt8] {
        var img = png_image()
        img.version = UInt32(PNG_IMAGE_VERSION)
        img.width = UInt32(image.width)
        img.height = UInt32(image.height)
        img.format = format(channels: image.channels, bitDepth: image.bitDepth)
        let stride = Int32(image.width * image.channels)
        var size: png_alloc_size_t = 0
        var out: [UInt8] = []
        let ok: Int32 = try withSampleBuffer(image) { buffer in
            guard png_image_write_to_memory(&img, nil, &size, 0, buffer, stride, nil) != 0 else { return 0 }
            out = [UInt8](repeating: 0, count: Int(size))
            return out.withUnsafeMutableBytes {
                png_image_write_to_memory(&img, $0.baseAddress, &size, 0, buffer, stride, nil)
            }
        }
        guard ok != 0 else { throw PNGError.cannotEncode(path: path, reason: message(&img)) }
        out.removeSubrange(Int(size)...)
        return out
    }

    static func withSampleBuffer<R>(_ image: RasterImage, _ body: (UnsafeRawPointer) throws -> R) throws -> R {
        if image.bitDepth == 16 {
            if image.channels == 2 || image.channels == 4 {
                // libpng expects premultiplied ("associated") alpha for 16-bit data.
                var pre = image.samples
                let c = image.channels
                for p in stride(from: 0, to: pre.count, by: c) {
                    let a = UInt32(pre[p + c - 1])
                    for k in 0..<(c - 1) { pre[p + k] = UInt16((UInt32(pre[p + k]) * a + 32767) / 65535) }
                }
                return try pre.withUnsafeBytes { try body($0.baseAddress!) }
            }
            return try image.samples.withUnsafeBytes { try body($0.baseAddress!) }
        }
        let bytes = image.samples.map { UInt8(truncatingIfNeeded: $0) }
        return try bytes.withUnsafeBytes { try body($0.baseAddress!) }
    }

    static func message(_ img: inout png_image) -> String {
        withUnsafeBytes(of: &img.message) { raw in
            let b = raw.prefix { $0 != 0 }
            return b.isEmpty ? "libpng error" : String(decoding: b, as: UTF8.self)
        }
    }

    /// Writes `image` to `path` atomically.
    public static func write(_ image: RasterImage, to path: String) throws {
        try AtomicFile.write(try encode(image, path: path), to: path)
    }

    /// Decodes PNG bytes in their own channel count and bit depth (palette images become RGB/RGBA).
    public static func decode(_ data: [UInt8], path: String = "PNG") throws -> RasterImage {
        // libpng reads from `data` until png_image_finish_read: keep one pointer alive throughout.
        try data.withUnsafeBytes { try decode(memory: $0, path: path) }
    }

    static func decode(memory: UnsafeRawBufferPointer, path: String) throws -> RasterImage {
        var img = png_image()
        img.version = UInt32(PNG_IMAGE_VERSION)
        guard memory.count > 8, png_image_begin_read_from_memory(&img, memory.baseAddress, memory.count) != 0 else {
            throw PNGError.cannotDecode(path: path, reason: memory.count > 8 ? message(&img) : "too short")
        }
        defer { png_image_free(&img) }
        let f = img.format
        let channels = (f & flagColor != 0 ? 3 : 1) + (f & flagAlpha != 0 ? 1 : 0)
        let bitDepth = f & flagLinear != 0 ? 16 : 8
        img.format = format(channels: channels, bitDepth: bitDepth)
        let (w, h) = (Int(img.width), Int(img.height))
        guard w > 0, h > 0, w * h <= Runtime.maxMemory / (channels * 2) else {
            throw PNGError.cannotDecode(path: path, reason: "size \(w)×\(h) exceeds the memory limit")
        }
        let n = w * h * channels
        var samples = [UInt16](repeating: 0, count: n)
        let ok: Int32
        if bitDepth == 16 {
            ok = samples.withUnsafeMutableBytes { png_image_finish_read(&img, nil, $0.baseAddress, 0, nil) }
        } else {
            var bytes = [UInt8](repeating: 0, count: n)
            ok = bytes.withUnsafeMutableBytes { png_image_finish_read(&img, nil, $0.baseAddress, 0, nil) }
            samples = bytes.map(UInt16.init)
        }
        guard ok != 0 else { throw PNGError.cannotDecode(path: path, reason: message(&img)) }
        if bitDepth == 16 && (channels == 2 || channels == 4) {
            // Undo libpng's premultiplication.
            for p in stride(from: 0, to: n, by: channels) {
                let a = UInt32(samples[p + channels - 1])
                for k in 0..<(channels - 1) {
                    samples[p + k] = a == 0 ? 0 : UInt16(min(65535, (UInt32(samples[p + k]) * 65535 + a / 2) / a))
                }
            }
        }
        return RasterImage(width: w, height: h, channels: channels, bitDepth: bitDepth, samples: samples)
    }

    /// Reads a PNG file.
    public static func read(_ path: String) throws -> RasterImage {
        try decode(try readWholeFile(path), path: path)
    }
}
