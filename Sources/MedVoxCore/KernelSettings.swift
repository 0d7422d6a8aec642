import CMedVoxKernels
import Foundation

/// Which kernels run: the instruction set of the C kernels (convolution, resampling, FFT,
/// statistics), a switch back to the reference loops that define them, and the convolution
/// passes a benchmark or test may force. One value, read by each plan when it is made; the
/// process-wide `current` starts from the environment.
///
/// ```swift
/// var k = KernelSettings.current
/// k.isa = .avx2          // never above `KernelSettings.best`
/// let plan = ConvPlan(geometry, settings: k)
/// ```
public struct KernelSettings: Sendable, Equatable {
    /// An instruction set with its own micro-kernels.
    public enum ISA: Int32, CaseIterable, Sendable, Comparable, CustomStringConvertible {
        case generic = 0, avx2 = 1, avx512 = 2
        public var description: String { ["generic", "avx2+fma", "avx512f"][Int(rawValue)] }
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    /// The best instruction set this CPU runs (from CPUID).
    public static let best: ISA = ISA(rawValue: mvx_isa_best()) ?? .generic

    /// The instruction set of the kernels (never above `best`).
    public var isa: ISA
    /// True: the reference loops (plain Swift twins) instead of the fast kernels.
    public var reference: Bool
    /// Convolution: forces direct (true) or gathered (false) tiles where both apply; nil: chosen
    /// by cost. Forcing either also declines the one-output-channel row kernel.
    public var forceDirect: Bool?
    /// Convolution: forces Winograd on (true) or off (false) for the 3×3(×3) stride-1 padding-1
    /// convolutions it serves; nil: chosen by shape.
    public var winograd: Bool?
    /// Convolution: floats of padded copy beyond which a direct pass pads its source a slab of
    /// planes at a time (per thread, in cache) instead of all at once; tests lower it to run that
    /// path.
    public var slabFloats: Int

    public init(isa: ISA = KernelSettings.best, reference: Bool = false, forceDirect: Bool? = nil, winograd: Bool? = nil,
                slabFloats: Int = 32 << 20) {
        self.isa = min(isa, Self.best)
        self.reference = reference
        self.forceDirect = forceDirect
        self.winograd = winograd
        self.slabFloats = slabFloats
    }

    /// Settings from environment variables: `MEDVOX_CONV_ISA` (generic, avx2, avx512) lowers the
    /// instruction set; `MEDVOX_CONV_TILES` (direct, gather) and `MEDVOX_CONV_WINOGRAD` (on, off)
    /// force convolution passes, for benchmarks.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> KernelSettings {
        var k = KernelSettings()
        if let e = env["MEDVOX_CONV_ISA"], let wanted = ISA.allCases.first(where: { $0.description.hasPrefix(e) }) {
            k.isa = min(wanted, best)
        }
        switch env["MEDVOX_CONV_TILES"] {
        case "direct": k.forceDirect = true
        case "gather": k.forceDirect = false
        default: break
        }
        switch env["MEDVOX_CONV_WINOGRAD"] {
        case "on": k.winograd = true
        case "off": k.winograd = false
        default: break
        }
        return k
    }

    /// The settings new plans and kernel calls use; set once at start-up (tests change it around
    /// a check and restore it).
    nonisolated(unsafe) public static var current = KernelSettings.fromEnvironment()
}
