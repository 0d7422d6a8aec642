import CMedVoxKernels
import MedVoxCore

/// The gathered pass: per tile, a column buffer of K rows copied from the zero-padded source
/// (`gather`), or, where no padded copy serves (backward-data with stride > 1 or padding beyond
/// d(k-1)), from the raw source through per-axis index maps (`gatherRaw`). It takes every shape
/// the kernels can address: the last fast pass the plan tries.
extension FastPass {
    /// The forward pass as gathered tiles.
    static func gatheredForward(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass {
        FastPass(
            mode: .gather, info: info, settings: settings, M: s.co, C: s.ci, taps: s.taps,
            kcc: channelsPerChunk(s.ci, taps: s.taps, direct: false), src: s.input, pad: s.padding, out: s.output,
            kernel: s.kernel, dilation: s.dilation, mul: s.stride, tmul: s.dilation, off: s.padding.map { -$0 },
            div: [1, 1, 1])
    }

    /// Backward-data as gathered tiles over the output gradient: from its padded copy for stride 1
    /// and padding within d(k-1), from the raw gradient otherwise.
    static func gatheredBackwardData(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass {
        let pad2 = backwardDataPadding(s)
        let possible = s.stride.allSatisfy { $0 == 1 } && pad2.allSatisfy { $0 >= 0 }
        return FastPass(
            mode: possible ? .gather : .gatherRaw, info: info, settings: settings, M: s.ci, C: s.co, taps: s.taps,
            kcc: channelsPerChunk(s.co, taps: s.taps, direct: false), src: s.output, pad: pad2.map { max(0, $0) },
            out: s.input, kernel: s.kernel, dilation: s.dilation, mul: [1, 1, 1], tmul: s.dilation.map { -$0 },
            off: s.padding, div: s.stride)
    }
}
