import XCTest
import MedVoxCore

@testable import MedVoxTensor

/// The instruction sets whose kernels a test class ran, printed once the class finishes, as
/// `ISA exercised (ConvTests): avx512 avx2 generic`. The kernels pick their instruction set at run
/// time, so on a machine without AVX-512 its paths are not run at all; this line says what was.
/// `.ci/run` fails when the machine has AVX-512 and the ConvTests line does not name it.
enum ISACoverage {
    nonisolated(unsafe) private static var exercised: [String: Set<KernelSettings.ISA>] = [:]

    /// Notes that `suite` ran kernels built for `isa`.
    static func record(_ isa: KernelSettings.ISA, in suite: String) { exercised[suite, default: []].insert(isa) }

    /// The line for `suite`: its instruction sets, best first ("none" if no kernel ran).
    static func line(_ suite: String) -> String {
        let names = (exercised[suite] ?? []).sorted(by: >).map { isa -> String in
            switch isa {
            case .avx512: return "avx512"
            case .avx2: return "avx2"
            case .generic: return "generic"
            }
        }
        return "ISA exercised (\(suite)): " + (names.isEmpty ? "none" : names.joined(separator: " "))
    }

    static func report(_ suite: String) {
        print(line(suite))
        fflush(stdout)
    }
}
