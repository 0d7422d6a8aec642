import MedVoxCore

/// Convolution forward, backward-data and backward-weights on contiguous Float32 tensors.
///
/// Results are identical for every `threads` value (each output element is reduced in a fixed
/// order by one thread).
public enum Conv {
    /// `output = act(conv(input, weight) + bias)`; input `[N, Cin, in...]`, weight
    /// `[Cout, Cin, k...]`, bias `[Cout]` or nil, output `[N, Cout, out...]` (overwritten).
    public static func forward(
        _ g: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, activation: FusedActivation = .none, threads: Int = Runtime.threads
    ) {
        let plan = ConvPlan(g)
        plan.pack(weight: weight)
        plan.forward(input: input, bias: bias, output: output, activation: activation, threads: threads)
    }

    /// `gradInput = ∂L/∂input` from `gradOutput = ∂L/∂output` (overwritten, not accumulated).
    public static func backwardData(
        _ g: ConvGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>, threads: Int = Runtime.threads
    ) {
        let plan = ConvPlan(g)
        plan.pack(weight: weight)
        plan.backwardData(gradOutput: gradOutput, gradInput: gradInput, threads: threads)
    }

    /// `gradWeight = ∂L/∂weight` `[Cout, Cin, k...]` and `gradBias = ∂L/∂bias` `[Cout]`, summed over
    /// the batch; both overwritten (the caller accumulates).
    public static func backwardWeights(
        _ g: ConvGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
        gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?, threads: Int = Runtime.threads
    ) {
        let plan = ConvPlan(g)
        plan.backwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, threads: threads)
    }
}
