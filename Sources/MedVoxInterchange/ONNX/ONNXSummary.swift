/// What an ONNX model holds, at a glance: operators with counts, the inputs a caller feeds and
/// the outputs with their shapes, operator sets and the number of weights.
public struct ONNXSummary: Sendable, CustomStringConvertible {
    /// One operator type and how many nodes use it.
    public struct OperatorUse: Sendable, Equatable {
        public var domain: String, opType: String, count: Int
    }

    public var irVersion: Int64
    public var producer: String
    public var opsets: [ONNXOperatorSet]
    /// Operators sorted by domain then name.
    public var operators: [OperatorUse]
    /// Graph inputs that are not initializers.
    public var inputs: [ONNXValueInfo]
    public var outputs: [ONNXValueInfo]
    /// Total elements of all initializers.
    public var parameterCount: Int

    public var description: String {
        func describe(_ v: ONNXValueInfo) -> String {
            guard case let .tensor(element, shape)? = v.type else { return "\(v.name): \(v.type.map { "\($0)" } ?? "untyped")" }
            let dims = shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "[rank unknown]"
            return "\(v.name): \(element) \(dims)"
        }
        var lines = ["ONNX IR \(irVersion), producer \(producer.isEmpty ? "unknown" : producer)"]
        lines.append("opsets: " + opsets.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain) \($0.version)" }.joined(separator: ", "))
        lines.append("operators: " + operators.map { "\($0.domain.isEmpty ? "" : $0.domain + ".")\($0.opType) ×\($0.count)" }.joined(separator: ", "))
        lines += inputs.map { "input  " + describe($0) }
        lines += outputs.map { "output " + describe($0) }
        lines.append("parameters: \(parameterCount)")
        return lines.joined(separator: "\n")
    }
}

extension ONNXModel {
    /// The summary of this model (the parameter count needs every initializer's shape to be valid).
    public func summary() throws -> ONNXSummary {
        var counts: [String: [String: Int]] = [:]
        for n in graph.nodes { counts[n.domain, default: [:]][n.opType, default: 0] += 1 }
        let operators = counts.keys.sorted().flatMap { d in
            counts[d]!.keys.sorted().map { ONNXSummary.OperatorUse(domain: d, opType: $0, count: counts[d]![$0]!) }
        }
        var parameters = 0
        for t in graph.initializers {
            let (sum, overflow) = parameters.addingReportingOverflow(try t.elementCount())
            guard !overflow else { throw t.invalid("the initializers hold more elements than a 64-bit count") }
            parameters = sum
        }
        let producer = [producerName, producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        return ONNXSummary(
            irVersion: irVersion, producer: producer, opsets: opsetImports, operators: operators,
            inputs: graph.runtimeInputs, outputs: graph.outputs, parameterCount: parameters)
    }
}
