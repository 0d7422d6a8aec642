import Foundation
import MedVoxCore
import MedVoxTensor

/// Runs a `Graph` on the MedVox engine: a per-node interpreter over `GraphValue`s.
///
/// Building the executor folds every node whose inputs are all constants (weight transposes,
/// shape constants) and fuses what the engine runs in one pass: a batch norm after a convolution
/// goes into its weights; a convolution followed by an instance norm and/or a ReLU or leaky ReLU
/// runs as one convolution that writes its output's statistics and normalises and activates in
/// place, as the native U-Net does (`ConvBlock`).
///
/// Each input shape gets a plan, made by its first run and cached: the values that depend only on
/// constants and on input shapes (Shape → Gather → Concat → Reshape chains that torch.onnx.export
/// writes for dynamic axes) are folded, and every intermediate tensor is released as soon as its
/// last consumer has run. Convolutions run through `ConvPlan`s packed once per input size.
///
/// Tensors are in the network's own layout (NCHW / NCDHW, last axis fastest). Not thread safe:
/// run one input at a time (the kernels themselves use all threads).
///
/// ```swift
/// let exec = try GraphExecutor(graph: g, weights: w)
/// let logits = try exec.run([Tensor(shape: [1, 1, 96, 96, 96])])[0]
/// ```
public final class GraphExecutor {
    /// The graph as run: after folding and fusion.
    public let graph: Graph
    /// Constants by value id: the weights, integer constants and folded values.
    private var constants: [Int: GraphValue] = [:]
    private var ids: [String: Int] = [:]
    private var nodeInputs: [[Int?]] = []
    private var nodeOutputs: [[Int]] = []
    private var inputIDs: [Int] = []
    private var outputIDs: [Int] = []
    private var plans: [[[Int]]: ShapePlan] = [:]
    let convs = ConvCache()

    /// Values folded for one input shape, and when each remaining value is last read.
    final class ShapePlan {
        var folded: [Int: GraphValue] = [:]
        /// The largest convolution scratch (floats) a run takes, reserved before it starts.
        var scratch = 0
        var skip: [Bool]
        var lastUse: [Int]
        init(nodes: Int, lastUse: [Int]) {
            skip = [Bool](repeating: false, count: nodes)
            self.lastUse = lastUse
        }
    }

    /// Builds the executor: checks the graph is well formed (each value made once, before it is
    /// read), folds constant nodes and fuses convolution–normalisation–activation chains.
    /// `weights`: float constants by name.
    public init(graph g: Graph, weights: [String: Tensor]) throws {
        var consts: [String: GraphValue] = [:]
        for (k, v) in weights { consts[k] = .float(v) }
        for c in g.integerConstants {
            guard c.shape.allSatisfy({ $0 >= 0 }), c.shape.reduce(1, *) == c.values.count else {
                throw GraphError.invalidGraph(reason: "integer constant '\(c.name)' has \(c.values.count) values for shape \(c.shape)")
            }
            consts[c.name] = .int(IntTensor(shape: c.shape, values: c.values))
        }
        var nodes = try Self.foldConstants(g, &consts)
        nodes = GraphFusion.fuse(nodes, outputs: Set(g.outputs), constants: &consts)
        graph = Graph(inputs: g.inputs, outputs: g.outputs, nodes: nodes, integerConstants: [])
        try index(consts)
    }

    /// Evaluates nodes whose inputs are all constants (in order, so chains fold), returning the
    /// nodes left to run.
    private static func foldConstants(_ g: Graph, _ consts: inout [String: GraphValue]) throws -> [GraphNode] {
        let fed = Set(g.inputs.map(\.name))
        var left: [GraphNode] = []
        let scratch = ConvCache()
        for node in g.nodes {
            let present = node.inputs.filter { !$0.isEmpty }
            let foldable = !present.isEmpty && present.allSatisfy { consts[$0] != nil && !fed.contains($0) }
                && !GraphOps.neverFolded.contains(node.op)
            guard foldable else {
                left.append(node)
                continue
            }
            var args: [GraphValue?] = node.inputs.map { $0.isEmpty ? nil : consts[$0] }
            let outs = try GraphOps.evaluate(node, &args, convs: scratch, key: "fold")
            for (name, v) in zip(node.outputs, outs) where !name.isEmpty { consts[name] = v }
        }
        return left
    }

    /// Value ids, each node's input and output ids, and the checks of a well-formed graph.
    private func index(_ consts: [String: GraphValue]) throws {
        func id(_ name: String) -> Int {
            if let i = ids[name] { return i }
            ids[name] = ids.count
            return ids.count - 1
        }
        var made = Set<String>()
        for input in graph.inputs {
            guard made.insert(input.name).inserted else { throw GraphError.invalidGraph(reason: "input '\(input.name)' is given twice") }
            inputIDs.append(id(input.name))
        }
        for (name, v) in consts {
            guard !made.contains(name) else { continue }  // an input shadows an initializer of its name
            constants[id(name)] = v
            made.insert(name)
        }
        for node in graph.nodes {
            var ins: [Int?] = []
            for name in node.inputs {
                if name.isEmpty {
                    ins.append(nil)
                    continue
                }
                guard made.contains(name) else {
                    throw GraphError.invalidGraph(reason: "node '\(node.name)' reads '\(name)', which no input, constant or earlier node makes")
                }
                ins.append(id(name))
            }
            nodeInputs.append(ins)
            var outs: [Int] = []
            for name in node.outputs {
                if name.isEmpty {
                    outs.append(-1)
                    continue
                }
                guard made.insert(name).inserted else { throw GraphError.invalidGraph(reason: "value '\(name)' is made twice (node '\(node.name)')") }
                outs.append(id(name))
            }
            nodeOutputs.append(outs)
        }
        for name in graph.outputs {
            guard made.contains(name) else { throw GraphError.invalidGraph(reason: "output '\(name)' is never made") }
            outputIDs.append(id(name))
        }
    }

    /// For each value id, the index of the last node in `running` that reads it (graph outputs:
    /// never released).
    private func lastUses(skipping skip: [Bool]) -> [Int] {
        var last = [Int](repeating: -1, count: ids.count)
        for (i, ins) in nodeInputs.enumerated() where !skip[i] {
            for case let v? in ins { last[v] = i }
        }
        for o in outputIDs { last[o] = Int.max }
        return last
    }

    /// Checks `inputs` against the graph's inputs: count, rank, and every fixed size.
    private func check(_ inputs: [Tensor]) throws {
        guard inputs.count == graph.inputs.count else {
            throw GraphError.input(reason: "the network takes \(graph.inputs.count) input(s), got \(inputs.count)")
        }
        for (t, spec) in zip(inputs, graph.inputs) {
            guard let shape = spec.shape else { continue }
            let fmt = "[" + shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]"
            let ok = shape.count == t.rank && zip(shape, t.shape).allSatisfy { $0 == nil || $0 == $1 }
            guard ok else {
                throw GraphError.input(reason: "'\(spec.name)' must have shape \(fmt) (N, C, spatial axes; ? is free), got \(t.shape)")
            }
        }
    }

    /// Runs the graph on `inputs` (one per graph input, in order) and returns its outputs in order.
    public func run(_ inputs: [Tensor]) throws -> [Tensor] {
        try check(inputs)
        let key = inputs.map(\.shape)
        let recorded = plans[key]
        // The largest convolution scratch first, below the activations, as the native U-Net does.
        if let recorded { ConvPlan.reserveScratch(recorded.scratch) } else { convs.largestScratch = 0 }
        let plan = recorded ?? ShapePlan(nodes: graph.nodes.count, lastUse: lastUses(skipping: [Bool](repeating: false, count: graph.nodes.count)))
        var values = [GraphValue?](repeating: nil, count: ids.count)
        var known = [Bool](repeating: false, count: ids.count)
        for (i, v) in constants {
            values[i] = v
            known[i] = true
        }
        for (i, v) in plan.folded { values[i] = v }
        for (i, t) in zip(inputIDs, inputs) { values[i] = .float(t) }
        let shapeKey = key.map { $0.map(String.init).joined(separator: "x") }.joined(separator: ",")
        for (n, node) in graph.nodes.enumerated() where !plan.skip[n] {
            let ins = nodeInputs[n]
            var args: [GraphValue?] = ins.map { $0.flatMap { values[$0] } }
            // Release what this node reads last, so that the op may reuse or free it.
            for case let v? in ins where plan.lastUse[v] == n && constants[v] == nil { values[v] = nil }
            let outs = try GraphOps.evaluate(node, &args, convs: convs, key: "\(n)@\(shapeKey)")
            args = []
            guard outs.count >= nodeOutputs[n].filter({ $0 >= 0 }).count else {
                throw GraphError.node(name: node.name, op: node.op, reason: "made \(outs.count) outputs, the graph reads \(nodeOutputs[n].count)")
            }
            let foldable = recorded == nil
                && (node.op == "Shape" || (!ins.isEmpty && ins.allSatisfy { $0 == nil || known[$0!] }))
                && !GraphOps.neverFolded.contains(node.op)
            for (o, v) in zip(nodeOutputs[n], outs) where o >= 0 {
                values[o] = v
                if foldable {
                    known[o] = true
                    plan.folded[o] = v
                }
            }
            if foldable { plan.skip[n] = true }
        }
        if recorded == nil {
            plan.scratch = convs.largestScratch
            plan.lastUse = lastUses(skipping: plan.skip)
            plans[key] = plan
        }
        return try outputIDs.enumerated().map { k, o in
            guard let v = values[o] else { throw GraphError.invalidGraph(reason: "output '\(graph.outputs[k])' was not computed") }
            return v.tensor
        }
    }

    /// Number of input shapes planned so far.
    public var planCount: Int { plans.count }
}

/// Convolution plans by node and input size, packed once.
final class ConvCache {
    var plans: [String: ConvPlan] = [:]
    /// The largest forward scratch of the plans handed out since it was last reset.
    var largestScratch = 0

    /// The plan for `key` and geometry `g`, made and packed with `weight` (`[Cout, Cin, k…]`) on
    /// first use.
    func plan(_ key: String, _ g: ConvGeometry, weight: () -> Tensor) -> ConvPlan {
        let k = "\(key)|\(g)"
        if let p = plans[k] {
            largestScratch = max(largestScratch, p.forwardScratchCount)
            return p
        }
        let p = ConvPlan(g)
        largestScratch = max(largestScratch, p.forwardScratchCount)
        weight().storage.withUnsafeBufferPointer { p.pack(weight: $0.baseAddress!) }
        plans[k] = p
        return p
    }
}
