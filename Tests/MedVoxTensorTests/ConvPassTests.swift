import CMedVoxKernels
import MedVoxCore
import XCTest

@testable import MedVoxTensor

/// The plan's choice of pass: each fast pass declines the shapes it does not serve, the plan
/// falls through to the next and finally to the reference loops, and the kernel settings given to
/// a plan decide it (not settings changed after).
final class ConvPassTests: XCTestCase {
    let auto = KernelSettings()
    var info: mvx_isa_info { mvx_isa_info_for(KernelSettings.best.rawValue) }

    func testWinogradDeclinesOtherKernelsStridesAndPaddings() {
        let fits = geometry(1, 16, 16, [8, 8, 8], k: [3, 3, 3], p: [1, 1, 1]).as3D
        XCTAssertEqual(FastPass.winogradForward(fits, info: info, settings: auto)?.mode, .winograd)
        XCTAssertEqual(FastPass.winogradForward(geometry(1, 16, 16, [12, 12], k: [3, 3], p: [1, 1]).as3D, info: info, settings: auto)?.points, 16)
        for g in [geometry(1, 16, 16, [8, 8, 8], k: [3, 3, 3], s: [2, 2, 2], p: [1, 1, 1]),
                  geometry(1, 16, 16, [8, 8, 8], k: [3, 3, 3]),
                  geometry(1, 16, 16, [8, 8, 8], k: [5, 5, 5], p: [2, 2, 2]),
                  geometry(1, 16, 16, [8, 8, 8], k: [3, 3, 3], p: [2, 2, 2], d: [2, 2, 2]),
                  geometry(1, 4, 4, [8, 8, 8], k: [3, 3, 3], p: [1, 1, 1])] {
            XCTAssertNil(FastPass.winogradForward(g.as3D, info: info, settings: auto), "\(g)")
            XCTAssertNil(FastPass.winogradBackwardData(g.as3D, info: info, settings: auto), "\(g)")
        }
        // Forced on, it takes the few-channel layer; forced off, none.
        let few = geometry(1, 4, 4, [8, 8, 8], k: [3, 3, 3], p: [1, 1, 1]).as3D
        XCTAssertNotNil(FastPass.winogradForward(few, info: info, settings: KernelSettings(winograd: true)))
        XCTAssertNil(FastPass.winogradForward(fits, info: info, settings: KernelSettings(winograd: false)))
    }

    func testRowKernelDeclinesAllButOneOutputChannelSameConvolutions() {
        let narrow = ConvPlan.kernelInfo(info, outputChannels: 1)
        let one = geometry(1, 3, 1, [5, 6, 70], k: [3, 3, 3], p: [1, 1, 1]).as3D
        XCTAssertEqual(FastPass.rowsForward(one, info: narrow, settings: auto)?.mode, KernelSettings.best == .avx512 ? .rows : nil)
        for g in [geometry(1, 3, 2, [5, 6, 70], k: [3, 3, 3], p: [1, 1, 1]), geometry(1, 3, 1, [5, 6, 70], k: [3, 3, 3]),
                  geometry(1, 3, 1, [5, 6, 70], k: [3, 3, 3], s: [1, 2, 2], p: [1, 1, 1]), geometry(1, 3, 1, [5, 2, 70], k: [3, 3, 3], p: [1, 1, 1])] {
            XCTAssertNil(FastPass.rowsForward(g.as3D, info: ConvPlan.kernelInfo(info, outputChannels: g.outChannels), settings: auto), "\(g)")
        }
        XCTAssertNil(FastPass.rowsForward(one, info: narrow, settings: KernelSettings(forceDirect: true)))
    }

    func testDirectTilesDeclineStridesAndWastefulGridsThePhasesOtherShapes() {
        let strided = geometry(1, 8, 8, [9, 9, 9], k: [3, 3, 3], s: [2, 2, 2], p: [1, 1, 1]).as3D
        XCTAssertNil(FastPass.directForward(strided, info: info, settings: auto))
        XCTAssertNil(FastPass.directForward(strided, info: info, settings: KernelSettings(forceDirect: true)))
        XCTAssertNil(FastPass.directBackwardData(strided, info: info, settings: auto))
        XCTAssertEqual(FastPass.gatheredForward(strided, info: info, settings: auto).mode, .gather)
        XCTAssertEqual(FastPass.gatheredBackwardData(strided, info: info, settings: auto).mode, .gatherRaw)
        // A small grid with a wide kernel wastes most of its padded grid: gathered tiles unless forced.
        let wasteful = geometry(1, 8, 8, [4, 4, 4], k: [3, 3, 3], p: [2, 2, 2]).as3D
        XCTAssertNil(FastPass.directForward(wasteful, info: info, settings: auto))
        XCTAssertEqual(FastPass.directForward(wasteful, info: info, settings: KernelSettings(forceDirect: true))?.mode, .direct)
        let up = geometry(1, 8, 4, [8, 8, 8], k: [2, 2, 2], s: [2, 2, 2]).as3D
        XCTAssertEqual(FastPass.transposedPhases(up, info: info, settings: auto)?.phases.count, 8)
        XCTAssertNil(FastPass.transposedPhases(up, info: info, settings: KernelSettings(forceDirect: false)))
        XCTAssertNil(FastPass.transposedPhases(strided, info: info, settings: auto))
    }

    func testThePlanFallsThroughToTheReferenceLoops() {
        let g = geometry(2, 3, 5, [6, 7, 5], k: [3, 3, 3], p: [1, 1, 1])
        let plan = ConvPlan(g, settings: KernelSettings(reference: true))
        XCTAssertNil(plan.forwardPass)
        XCTAssertNil(plan.backwardDataPass)
        XCTAssertEqual(plan.modes.forward, "reference")
        XCTAssertEqual(plan.modes.backwardData, "reference")
        XCTAssertEqual(plan.forwardScratchCount, 0)
        XCTAssertFalse(plan.readsPendingNormalization)
        // The reference plan gives PlainConv's bits.
        let c = ConvCase(g, seed: 900)
        var fromPlan = [Float](repeating: .nan, count: g.outputCount), plain = fromPlan
        c.input.withUnsafeBufferPointer { x in c.weight.withUnsafeBufferPointer { w in c.bias.withUnsafeBufferPointer { b in
            plan.pack(weight: w.baseAddress!)
            fromPlan.withUnsafeMutableBufferPointer { plan.forward(input: x.baseAddress!, bias: b.baseAddress!, output: $0.baseAddress!, threads: 2) }
            plain.withUnsafeMutableBufferPointer {
                PlainConv.forward(g.as3D, input: x.baseAddress!, weight: w.baseAddress!, bias: b.baseAddress!, output: $0.baseAddress!,
                                  activation: .none, threads: 2)
            }
        } } }
        XCTAssertEqual(fromPlan.map(\.bitPattern), plain.map(\.bitPattern))
    }

    func testSettingsGivenToAPlanDecideItsPasses() {
        let g = geometry(1, 16, 16, [16, 16, 16], k: [3, 3, 3], p: [1, 1, 1])
        XCTAssertEqual(ConvPlan(g, settings: KernelSettings(winograd: true)).modes.forward, "winograd")
        XCTAssertEqual(ConvPlan(g, settings: KernelSettings(forceDirect: true, winograd: false)).modes.forward, "direct")
        XCTAssertEqual(ConvPlan(g, settings: KernelSettings(forceDirect: false, winograd: false)).modes.forward, "gather")
        XCTAssertEqual(ConvPlan(g, settings: KernelSettings(isa: .generic)).isa, .generic)
        // A plan keeps the settings it was made with.
        let saved = KernelSettings.current
        defer { KernelSettings.current = saved }
        KernelSettings.current = KernelSettings(forceDirect: false, winograd: false)
        let plan = ConvPlan(g)
        KernelSettings.current = KernelSettings(winograd: true)
        XCTAssertEqual(plan.modes.forward, "gather")
        XCTAssertEqual(plan.settings, KernelSettings(forceDirect: false, winograd: false))
    }

    func testSettingsFromTheEnvironment() {
        let none = KernelSettings.fromEnvironment([:])
        XCTAssertEqual(none, KernelSettings())
        XCTAssertEqual(none.isa, KernelSettings.best)
        XCTAssertFalse(none.reference)
        let env = KernelSettings.fromEnvironment(["MEDVOX_CONV_ISA": "avx2", "MEDVOX_CONV_TILES": "gather", "MEDVOX_CONV_WINOGRAD": "off"])
        XCTAssertEqual(env.isa, min(.avx2, KernelSettings.best))
        XCTAssertEqual(env.forceDirect, false)
        XCTAssertEqual(env.winograd, false)
        let on = KernelSettings.fromEnvironment(["MEDVOX_CONV_ISA": "generic", "MEDVOX_CONV_TILES": "direct", "MEDVOX_CONV_WINOGRAD": "on"])
        XCTAssertEqual(on.isa, .generic)
        XCTAssertEqual(on.forceDirect, true)
        XCTAssertEqual(on.winograd, true)
        // Never above what the CPU runs; unknown names leave the default.
        XCTAssertLessThanOrEqual(KernelSettings(isa: .avx512).isa, KernelSettings.best)
        XCTAssertEqual(KernelSettings.fromEnvironment(["MEDVOX_CONV_ISA": "sse9"]).isa, KernelSettings.best)
    }
}
