import Foundation
import MedVoxTensor

/// Rewrites a graph's node list so that the engine runs chains in one pass:
/// - Conv → BatchNormalization (constant statistics): the norm folded into the weights and bias;
/// - Conv → InstanceNormalization → Relu/LeakyRelu, or Conv → InstanceNormalization: one
///   `MedVoxConv` node that sums its output as it writes it (Winograd passes) and normalises and
///   activates it in place — the native U-Net's block;
/// - Conv → Relu/LeakyRelu: the activation fused into the convolution's output pass;
/// - Concat (channels) → Conv: the convolution reads the parts where they are (a U-Net decoder's
///   skip and up-sampled maps), releasing them once read, without building the concatenation;
/// - a fused norm whose output only a convolution reads is left pending: that convolution applies
///   it as it reads (Winograd passes) or applies it first — `ConvBlock`'s second stage.
/// A chain is fused only where each intermediate value has that one consumer and is not a graph
/// output, and the norm's parameters are constants.
enum GraphFusion {
    static func fuse(_ input: [GraphNode], outputs: Set<String>, constants: inout [String: GraphValue]) -> [GraphNode] {
        var nodes: [GraphNode?] = input
        var readers: [String: [Int]] = [:]
        for (i, n) in input.enumerated() { for v in n.inputs where !v.isEmpty { readers[v, default: []].append(i) } }
        /// The one node reading `value`, when exactly one does and it is not a graph output.
        func soleReader(_ value: String) -> Int? {
            guard !outputs.contains(value), let r = readers[value], r.count == 1, let n = nodes[r[0]], n.inputs.filter({ $0 == value }).count == 1 else { return nil }
            return r[0]
        }
        func constant(_ name: String?) -> Tensor? {
            guard let name, case let .float(t)? = constants[name] else { return nil }
            return t
        }
        for i in nodes.indices {
            guard var conv = nodes[i], conv.op == "Conv", conv.outputs.count == 1, let w = constant(conv.input(1)), w.rank >= 3 else { continue }
            let bias = constant(conv.input(2))
            guard conv.input(2) == nil || bias != nil else { continue }
            // Batch norm into the weights.
            if let j = soleReader(conv.outputs[0]), let bn = nodes[j], bn.op == "BatchNormalization", bn.input(0) == conv.outputs[0],
               bn.outputs.filter({ !$0.isEmpty }).count == 1, bn.int("training_mode", default: 0) == 0,
               let s = constant(bn.input(1)), let b = constant(bn.input(2)), let m = constant(bn.input(3)), let v = constant(bn.input(4)),
               [s, b, m, v].allSatisfy({ $0.count == w.shape[0] })
            {
                let eps = bn.float("epsilon", default: 1e-5)
                let per = w.count / w.shape[0]
                var nw = w, nb = [Float](repeating: 0, count: w.shape[0])
                for c in 0..<w.shape[0] {
                    let k = s.storage[c] / (v.storage[c] + eps).squareRoot()
                    for t in 0..<per { nw.storage[c * per + t] *= k }
                    nb[c] = ((bias?.storage[c] ?? 0) - m.storage[c]) * k + b.storage[c]
                }
                let wn = conv.name + "/medvox.bn_weight", bnName = conv.name + "/medvox.bn_bias"
                constants[wn] = .float(nw)
                constants[bnName] = .float(Tensor(shape: [w.shape[0]], storage: nb))
                conv.inputs = [conv.inputs[0], wn, bnName]
                conv.outputs = bn.outputs.filter { !$0.isEmpty }
                nodes[j] = nil
            }
            // Instance norm, then an activation.
            if let j = soleReader(conv.outputs[0]), let inorm = nodes[j], inorm.op == "InstanceNormalization", inorm.input(0) == conv.outputs[0],
               let s = inorm.input(1), let b = inorm.input(2), constant(s)?.count == w.shape[0], constant(b)?.count == w.shape[0]
            {
                conv.op = "MedVoxConv"
                conv.inputs = [conv.inputs[0], conv.inputs[1], conv.input(2) ?? "", s, b]
                conv.attributes["epsilon"] = GraphAttribute(float: inorm.float("epsilon", default: 1e-5))
                conv.outputs = inorm.outputs
                nodes[j] = nil
            }
            if let j = soleReader(conv.outputs[0]), let act = nodes[j], act.op == "Relu" || act.op == "LeakyRelu" {
                conv.attributes["medvox.slope"] = GraphAttribute(float: act.op == "Relu" ? 0 : act.float("alpha", default: 0.01))
                if conv.op == "Conv" { conv.op = "MedVoxConv" }
                conv.outputs = act.outputs
                nodes[j] = nil
            }
            nodes[i] = conv
        }
        // A channel concatenation read only by a convolution: the parts go straight in.
        for i in nodes.indices {
            guard let cat = nodes[i], cat.op == "Concat", cat.outputs.count == 1, let j = soleReader(cat.outputs[0]), var conv = nodes[j],
                  conv.op == "Conv" || conv.op == "MedVoxConv", conv.int("medvox.parts") == nil, conv.input(0) == cat.outputs[0],
                  conv.int("group", default: 1) == 1
            else { continue }
            let rank = constant(conv.input(1))?.rank ?? 0
            let axis = cat.int("axis", default: 0)
            guard rank >= 3, axis == 1 || axis == 1 - rank else { continue }
            let parts = cat.inputs.filter { !$0.isEmpty }
            conv.op = "MedVoxConv"
            conv.inputs = parts + conv.inputs.dropFirst()
            conv.attributes["medvox.parts"] = GraphAttribute(int: parts.count)
            nodes[j] = conv
            nodes[i] = nil
        }
        // A normalised output read only by a convolution: left pending, applied as that one reads.
        for i in nodes.indices {
            guard var conv = nodes[i], conv.op == "MedVoxConv", conv.input(3) != nil, conv.int("group", default: 1) == 1,
                  let j = soleReader(conv.outputs[0]), let next = nodes[j], next.op == "Conv" || next.op == "MedVoxConv",
                  next.input(0) == conv.outputs[0], next.int("medvox.parts") == nil
            else { continue }
            conv.attributes["medvox.pendingOutput"] = GraphAttribute(int: 1)
            nodes[i] = conv
        }
        return nodes.compactMap { $0 }
    }
}
