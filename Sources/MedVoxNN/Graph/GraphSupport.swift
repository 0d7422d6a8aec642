/// What the executor runs, checked before a graph is accepted: every operator and attribute
/// (name and value) of every node, so that an import fails with the whole list at once.
extension Graph {
    /// Attributes each operator reads (all others are refused), and where a value is restricted,
    /// the values accepted.
    static let allowedAttributes: [String: Set<String>] = {
        let conv: Set<String> = ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"]
        let pool: Set<String> = ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides", "count_include_pad", "storage_order"]
        let reduce: Set<String> = ["axes", "keepdims", "noop_with_empty_axes"]
        var t: [String: Set<String>] = [
            "Conv": conv, "ConvTranspose": conv.union(["output_padding", "output_shape"]),
            "BatchNormalization": ["epsilon", "momentum", "training_mode", "spatial"],
            "InstanceNormalization": ["epsilon"], "GroupNormalization": ["epsilon", "num_groups", "stash_type"],
            "LayerNormalization": ["axis", "epsilon", "stash_type"],
            "LeakyRelu": ["alpha"], "Elu": ["alpha"], "Gelu": ["approximate"], "HardSigmoid": ["alpha", "beta"],
            "Softmax": ["axis"], "LogSoftmax": ["axis"], "Clip": ["min", "max"], "Cast": ["to", "saturate"],
            "Dropout": ["seed", "ratio"], "Concat": ["axis"], "Split": ["axis", "split", "num_outputs"],
            "Pad": ["mode", "pads", "value"], "Resize": ["mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a",
                                                        "exclude_outside", "extrapolation_value", "antialias", "axes", "keep_aspect_ratio_policy"],
            "Upsample": ["mode"],
            "MaxPool": pool, "AveragePool": pool, "Gemm": ["alpha", "beta", "transA", "transB"], "Einsum": ["equation"],
            "Reshape": ["allowzero"], "Transpose": ["perm"], "Flatten": ["axis"], "Squeeze": ["axes"], "Unsqueeze": ["axes"],
            "Shape": ["start", "end"], "Gather": ["axis"], "Constant": ["value", "value_float", "value_floats", "value_int", "value_ints"],
            "ConstantOfShape": ["value"],
        ]
        for r in ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"] { t[r] = reduce }
        return t
    }()

    /// Every operator or attribute this engine does not run, as "node 'NAME': op OP" or
    /// "node 'NAME' (OP): attribute A=V", in graph order; empty when the whole graph runs.
    public func unsupportedFeatures() -> [String] {
        var out: [String] = []
        let ops = GraphOps.supported
        for n in nodes {
            guard ops.contains(n.op) else {
                out.append("node '\(n.name)': op \(n.op)")
                continue
            }
            let allowed = Self.allowedAttributes[n.op] ?? []
            for (k, v) in n.attributes.sorted(by: { $0.key < $1.key }) {
                guard allowed.contains(k) else {
                    out.append("node '\(n.name)' (\(n.op)): attribute \(k)")
                    continue
                }
                if let why = Self.unsupportedValue(n, k, v) { out.append("node '\(n.name)' (\(n.op)): attribute \(k)=\(why)") }
            }
            if n.op == "Einsum", GraphOps.einsumTerms(n.string("equation", default: ""), inputs: n.inputs.filter { !$0.isEmpty }.count) == nil {
                out.append("node '\(n.name)' (Einsum): attribute equation=\(n.string("equation", default: "")) (supported: two operands with batch, contracted and free indices, or a permutation)")
            }
            if ["MaxPool", "BatchNormalization", "LayerNormalization"].contains(n.op), n.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
                out.append("node '\(n.name)' (\(n.op)): a second output (only the first is computed)")
            }
        }
        return out
    }

    /// Why attribute `k` = `v` of node `n` is not run, nil when it is.
    static func unsupportedValue(_ n: GraphNode, _ k: String, _ v: GraphAttribute) -> String? {
        func oneOf(_ allowed: [String]) -> String? {
            let s = v.string ?? ""
            return allowed.contains(s) ? nil : "\(s) (supported: \(allowed.joined(separator: ", ")))"
        }
        switch (n.op, k) {
        case ("Conv", "auto_pad"), ("MaxPool", "auto_pad"), ("AveragePool", "auto_pad"): return oneOf(["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"])
        case ("ConvTranspose", "auto_pad"): return oneOf(["NOTSET", "VALID"])
        case ("Resize", "mode"), ("Upsample", "mode"): return oneOf(["nearest", "linear"])
        case ("Resize", "coordinate_transformation_mode"):
            return oneOf(["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"])
        case ("Resize", "nearest_mode"): return oneOf(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
        case ("Resize", "antialias"): return v.int == 0 ? nil : "\(v.int ?? -1) (supported: 0)"
        case ("Resize", "keep_aspect_ratio_policy"): return oneOf(["stretch"])
        case ("Resize", "exclude_outside"): return v.int == 0 ? nil : "\(v.int ?? -1) (supported: 0)"
        case ("Pad", "mode"): return oneOf(["constant", "reflect", "edge"])
        case ("MaxPool", "storage_order"): return v.int == 0 ? nil : "\(v.int ?? -1) (supported: 0)"
        case ("BatchNormalization", "training_mode"): return v.int == 0 ? nil : "\(v.int ?? -1) (supported: 0, inference)"
        case ("Gelu", "approximate"): return oneOf(["none", "tanh"])
        case ("Cast", "to"): return [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 16].contains(v.int ?? -1) ? nil : "\(v.int ?? -1)"
        default: return nil
        }
    }
}
