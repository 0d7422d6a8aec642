import CDeflate

// The one file of MedVoxIO that calls libdeflate (STYLE.md #1): whole-buffer deflate, inflate and
// CRC-32, about twice zlib's speed. It is the fast path of `Gzip`; zlib (Zlib.swift) is the plain
// twin and the fallback for streams that are not whole buffers of known size.

enum Libdeflate {
    /// Which engine `Gzip` uses for whole buffers; tests switch it to compare both.
    nonisolated(unsafe) static var enabled = true

    /// Raw deflate of `input` at `level` (libdeflate levels 0–12; 1–9 as zlib's meaning).
    static func compressRaw(_ input: UnsafeRawBufferPointer, level: Int) -> [UInt8]? {
        guard let c = libdeflate_alloc_compressor(Int32(max(0, min(level, 12)))) else { return nil }
        defer { libdeflate_free_compressor(c) }
        let bound = libdeflate_deflate_compress_bound(c, input.count)
        var n = 0
        let out = [UInt8](unsafeUninitializedCapacity: bound) { o, initialized in
            n = libdeflate_deflate_compress(c, input.baseAddress, input.count, o.baseAddress, bound)
            initialized = n
        }
        return n > 0 || input.isEmpty ? out : nil
    }

    /// Inflates raw deflate `input` into exactly `output.count` bytes; false when the data is
    /// invalid or does not have exactly that size.
    static func decompressRaw(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard let d = libdeflate_alloc_decompressor() else { return false }
        defer { libdeflate_free_decompressor(d) }
        var spare: UInt8 = 0
        return withUnsafeMutablePointer(to: &spare) { sp in
            let out = output.count > 0 ? output.baseAddress! : UnsafeMutableRawPointer(sp)
            return libdeflate_deflate_decompress(d, input.baseAddress, input.count, out, output.count, nil)
                == LIBDEFLATE_SUCCESS
        }
    }

    /// The first gzip member of `input` inflated into `output` (which must hold it whole): the
    /// bytes produced, or nil when the member is invalid or larger than `output`.
    static func gunzipFirstMember(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard let d = libdeflate_alloc_decompressor() else { return nil }
        defer { libdeflate_free_decompressor(d) }
        var used = 0, produced = 0
        let rc = libdeflate_gzip_decompress_ex(
            d, input.baseAddress, input.count, output.baseAddress, output.count, &used, &produced)
        return rc == LIBDEFLATE_SUCCESS ? produced : nil
    }

    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        libdeflate_crc32(0, bytes.baseAddress, bytes.count)
    }
}
