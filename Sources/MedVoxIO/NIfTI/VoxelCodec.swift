import MedVoxCore

/// Conversion between stored voxel bytes (any `ScalarType`, either byte order) and Float32 real
/// values, applying `real = slope · stored + intercept`. Shared by NIfTI (and usable by DICOM).
/// Work is split over `Runtime.threads` contiguous chunks.
public enum VoxelCodec {
    /// Decodes `src` (stored values, `swap` when their byte order differs from the host's) into
    /// `dst`. For `.rgb24`, `src` holds interleaved R,G,B per voxel per time point and `dst` gets
    /// `frames3` frames ordered t·3 + channel.
    public static func decode(
        _ src: UnsafeRawBufferPointer, type: ScalarType, swap: Bool, scaling: IntensityScaling, frames3: Int = 1,
        into dst: UnsafeMutableBufferPointer<Float>, threads: Int = Runtime.threads
    ) {
        let n = dst.count
        guard n > 0 else { return }
        let base = src.baseAddress!
        let out = dst.baseAddress!
        if type == .rgb24 {
            let n3 = n / max(frames3, 1)
            let nt = max(frames3, 1) / 3
            for t in 0..<nt {
                for c in 0..<3 {
                    let o = out + (t * 3 + c) * n3
                    let s = base + t * n3 * 3 + c
                    for v in 0..<n3 { o[v] = Float(s.load(fromByteOffset: 3 * v, as: UInt8.self)) }
                }
            }
            return
        }
        let slope = scaling.slope, inter = scaling.intercept
        let identity = scaling.isIdentity
        let parts = max(1, min(threads, n / 65536))
        parallelFor(parts, threads: parts) { part in
            let r = chunkRange(n, part: part, of: parts)
            @inline(__always) func put(_ i: Int, _ x: Double) {
                out[i] = identity ? Float(x) : Float(slope * x + inter)
            }
            @inline(__always) func ints<T: FixedWidthInteger>(_: T.Type) {
                for i in r {
                    let u = base.loadUnaligned(fromByteOffset: MemoryLayout<T>.size * i, as: T.self)
                    put(i, Double(swap ? u.byteSwapped : u))
                }
            }
            switch type {
            case .uint8: ints(UInt8.self)
            case .int8: ints(Int8.self)
            case .int16:
                if identity && !swap {
                    for i in r { out[i] = Float(base.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
                } else {
                    ints(Int16.self)
                }
            case .uint16: ints(UInt16.self)
            case .int32: ints(Int32.self)
            case .uint32: ints(UInt32.self)
            case .int64: ints(Int64.self)
            case .uint64: ints(UInt64.self)
            case .float32:
                if identity && !swap {
                    for i in r { out[i] = base.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
                } else {
                    for i in r {
                        let u = base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                        put(i, Double(Float(bitPattern: swap ? u.byteSwapped : u)))
                    }
                }
            case .float64:
                for i in r {
                    let u = base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
                    put(i, Double(bitPattern: swap ? u.byteSwapped : u))
                }
            case .rgb24:
                break
            }
        }
    }

    /// Encodes real values as `type` in host byte order: `stored = round((real − intercept) / slope)`
    /// for integer types, clamped to the type's range (NaN → 0). `.rgb24` interleaves frames
    /// t·3 + channel back into R,G,B triples.
    public static func encode(
        _ src: UnsafeBufferPointer<Float>, type: ScalarType, scaling: IntensityScaling, frames3: Int = 1,
        into dst: UnsafeMutableRawBufferPointer
    ) {
        let n = src.count
        guard n > 0 else { return }
        let inp = src.baseAddress!
        let base = dst.baseAddress!
        if type == .rgb24 {
            let n3 = n / max(frames3, 1)
            for t in 0..<(max(frames3, 1) / 3) {
                for c in 0..<3 {
                    let s = inp + (t * 3 + c) * n3
                    for v in 0..<n3 {
                        let x = s[v].isNaN ? 0 : min(max(s[v].rounded(), 0), 255)
                        base.storeBytes(of: UInt8(x), toByteOffset: (t * n3 + v) * 3 + c, as: UInt8.self)
                    }
                }
            }
            return
        }
        let slope = scaling.slope, inter = scaling.intercept
        let identity = scaling.isIdentity
        let parts = max(1, min(Runtime.threads, n / 65536))
        parallelFor(parts) { part in
            let r = chunkRange(n, part: part, of: parts)
            @inline(__always) func stored(_ i: Int) -> Double {
                identity ? Double(inp[i]) : (Double(inp[i]) - inter) / slope
            }
            // Round half away from zero without a libm call (truncation after ±0.5), then clamp.
            @inline(__always) func int<T: FixedWidthInteger>(_ t: T.Type, _ i: Int) -> T {
                let x = stored(i)
                if x.isNaN { return 0 }
                let y = x < 0 ? x - 0.5 : x + 0.5
                if y >= 9.2e18 { return T.max }
                if y <= -9.2e18 { return T.min }
                return T(clamping: Int64(y))
            }
            switch type {
            case .uint8: for i in r { base.storeBytes(of: int(UInt8.self, i), toByteOffset: i, as: UInt8.self) }
            case .int8: for i in r { base.storeBytes(of: int(Int8.self, i), toByteOffset: i, as: Int8.self) }
            case .int16: for i in r { base.storeBytes(of: int(Int16.self, i), toByteOffset: 2 * i, as: Int16.self) }
            case .uint16: for i in r { base.storeBytes(of: int(UInt16.self, i), toByteOffset: 2 * i, as: UInt16.self) }
            case .int32: for i in r { base.storeBytes(of: int(Int32.self, i), toByteOffset: 4 * i, as: Int32.self) }
            case .uint32: for i in r { base.storeBytes(of: int(UInt32.self, i), toByteOffset: 4 * i, as: UInt32.self) }
            case .int64: for i in r { base.storeBytes(of: int(Int64.self, i), toByteOffset: 8 * i, as: Int64.self) }
            case .uint64:
                for i in r {
                    let x = stored(i)
                    let v: UInt64 = x.isNaN || x <= 0 ? 0 : (x >= 1.8e19 ? UInt64.max : UInt64(x + 0.5))
                    base.storeBytes(of: v, toByteOffset: 8 * i, as: UInt64.self)
                }
            case .float32:
                for i in r { base.storeBytes(of: inp[i], toByteOffset: 4 * i, as: Float.self) }
            case .float64:
                for i in r { base.storeBytes(of: Double(inp[i]), toByteOffset: 8 * i, as: Double.self) }
            case .rgb24:
                break
            }
        }
    }
}
