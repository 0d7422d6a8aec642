/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// All randomness in MedVox (augmentation, weight initialisation, dropout, data splits) comes
/// from an injected `SeededGenerator`, so a seed fixes every bit of the result. To draw in
/// parallel without depending on the thread count, derive one child generator per work item
/// with `split(stream:)` instead of sharing one generator across threads.
///
/// ```swift
/// var rng = SeededGenerator(seed: 42)
/// let angle = rng.uniform(-10, 10)
/// let noise = rng.normal()
/// ```
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var sm = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(&sm), splitmix(&sm), splitmix(&sm), splitmix(&sm))
    }

    @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = Self.rotl(s.3, 45)
        return result
    }

    /// An independent generator for work item `stream`, determined by this generator's state and
    /// `stream` only (this generator is not advanced).
    public func split(stream: UInt64) -> SeededGenerator {
        SeededGenerator(seed: s.0 ^ Self.rotl(s.2, 13) ^ (stream &* 0xD1B5_4A32_D192_ED03) ^ 0x5851_F42D_4C95_7F2D)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }

    /// Standard normal (Box–Muller; one value per call, deterministic).
    public mutating func normal() -> Double {
        var u = unit()
        while u <= 0 { u = unit() }
        let v = unit()
        return (-2 * _log(u)).squareRoot() * _cos(2 * Double.pi * v)
    }

    /// True with probability `p`.
    public mutating func bernoulli(_ p: Double) -> Bool { unit() < p }

    /// Uniform integer in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
}

#if canImport(Glibc)
    import Glibc
    @inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
    @inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#elseif canImport(Darwin)
    import Darwin
    @inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
    @inline(__always) func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
