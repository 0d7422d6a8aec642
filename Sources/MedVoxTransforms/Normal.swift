import MedVoxCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Standard normal samples by the ziggurat method (Marsaglia & Tsang, "The Ziggurat Method for
/// Generating Random Variables", J. Stat. Softw. 5(8), 2000; 128 layers, 32-bit draws). About 99%
/// of samples cost one draw, a table look-up and a multiply — several times faster than Box–Muller.
enum Ziggurat {
    /// Layer bounds k, widths w and densities f (allocated once, never freed: plain pointers keep
    /// the inner loop free of array bookkeeping).
    struct Tables: @unchecked Sendable {
        let k = UnsafeMutablePointer<UInt32>.allocate(capacity: 128)
        let w = UnsafeMutablePointer<Float>.allocate(capacity: 128)
        let f = UnsafeMutablePointer<Float>.allocate(capacity: 128)
    }

    static let tables: Tables = {
        let t = Tables()
        let m1 = 2147483648.0
        var dn = 3.442619855899, tn = dn
        let vn = 9.91256303526217e-3
        let q = vn / exp(-0.5 * dn * dn)
        t.k[0] = UInt32((dn / q) * m1)
        t.k[1] = 0
        t.w[0] = Float(q / m1)
        t.w[127] = Float(dn / m1)
        t.f[0] = 1
        t.f[127] = Float(exp(-0.5 * dn * dn))
        var i = 126
        while i >= 1 {
            dn = (-2 * log(vn / dn + exp(-0.5 * dn * dn))).squareRoot()
            t.k[i + 1] = UInt32((dn / tn) * m1)
            tn = dn
            t.f[i] = Float(exp(-0.5 * dn * dn))
            t.w[i] = Float(dn / m1)
            i -= 1
        }
        return t
    }()

    /// Uniform in (0, 1) from 24 random bits.
    @inline(__always) static func uniform(_ g: inout SeededGenerator) -> Float {
        (Float(UInt32(truncatingIfNeeded: g.next() >> 40)) + 0.5) * 0x1p-24
    }

    /// One standard normal sample.
    @inline(__always) static func next(_ g: inout SeededGenerator, _ t: Tables) -> Float {
        let hz = Int32(truncatingIfNeeded: g.next() >> 32)
        let iz = Int(hz & 127)
        if hz.magnitude < t.k[iz] { return Float(hz) * t.w[iz] }
        return tail(&g, hz, iz, t)
    }

    static func tail(_ g: inout SeededGenerator, _ hz0: Int32, _ iz0: Int, _ t: Tables) -> Float {
        let r: Float = 3.442620
        var hz = hz0, iz = iz0
        while true {
            let x = Float(hz) * t.w[iz]
            if iz == 0 {
                var xx: Float, y: Float
                repeat {
                    xx = -logf(uniform(&g)) * 0.2904764
                    y = -logf(uniform(&g))
                } while y + y < xx * xx
                return hz > 0 ? r + xx : -r - xx
            }
            if t.f[iz] + uniform(&g) * (t.f[iz - 1] - t.f[iz]) < expf(-0.5 * x * x) { return x }
            hz = Int32(truncatingIfNeeded: g.next() >> 32)
            iz = Int(hz & 127)
            if hz.magnitude < t.k[iz] { return Float(hz) * t.w[iz] }
        }
    }

    /// Fills `count` values with `body(i, sample)` for i in 0..<count.
    @inline(__always) static func fill(_ count: Int, _ g: inout SeededGenerator, _ body: (Int, Float) -> Void) {
        let t = tables
        for i in 0..<count { body(i, next(&g, t)) }
    }
}
