import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxNN
import MedVoxTensor

/// A model ready to run: its card and its network with the weights loaded (inference mode).
public final class LoadedModel {
    public let card: ModelCard
    public let network: Module
    /// Path of the card file.
    public let cardPath: String

    public init(card: ModelCard, network: Module, cardPath: String) {
        self.card = card
        self.network = network
        self.cardPath = cardPath
    }

    /// Folders searched for a model given by name, in order: `$MEDVOX_MODELS`, `Models/` beside
    /// the executable and its parent folders (a build tree), then `./Models`.
    public static var searchPaths: [String] {
        var paths: [String] = []
        if let env = ProcessInfo.processInfo.environment["MEDVOX_MODELS"], !env.isEmpty { paths.append(env) }
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            paths.append(dir.appendingPathComponent("Models").path)
            dir = dir.deletingLastPathComponent()
        }
        paths.append(FileManager.default.currentDirectoryPath + "/Models")
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    /// Resolves `nameOrPath` (a card path ending in .json, or a model name looked up in
    /// `searchPaths`) to a card path.
    public static func resolve(_ nameOrPath: String) throws -> String {
        if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") {
            guard FileManager.default.fileExists(atPath: nameOrPath) else {
                throw ModelError.notFound(name: nameOrPath, searched: [nameOrPath])
            }
            return nameOrPath
        }
        let safe = nameOrPath.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
        guard safe, !nameOrPath.hasPrefix(".") else { throw ModelError.notFound(name: nameOrPath, searched: []) }
        for dir in searchPaths {
            let p = "\(dir)/\(nameOrPath).json"
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        throw ModelError.notFound(name: nameOrPath, searched: searchPaths)
    }

    /// Loads a model by name or card path: reads the card, checks the weights' SHA-256, builds the
    /// network and loads the weights.
    public static func load(_ nameOrPath: String) throws -> LoadedModel {
        let cardPath = try resolve(nameOrPath)
        let card = try ModelCard.read(cardPath)
        let weightsPath = URL(fileURLWithPath: cardPath).deletingLastPathComponent()
            .appendingPathComponent(card.weights.file).path
        let bytes = try checkedBytes(weightsPath, sha256: card.weights.sha256)
        let (tensors, _) = try Safetensors.decode(bytes, path: weightsPath)
        if card.architecture.kind == "graph" {
            return LoadedModel(card: card, network: try graphNetwork(card, cardPath: cardPath, weights: tensors), cardPath: cardPath)
        }
        var rng = SeededGenerator(seed: 0)
        let network = card.makeNetwork(rng: &rng)
        try network.loadStateDict(tensors, path: weightsPath)
        network.setTraining(false)
        return LoadedModel(card: card, network: network, cardPath: cardPath)
    }

    /// The bytes of `path`, checked against the card's SHA-256.
    static func checkedBytes(_ path: String, sha256: String) throws -> [UInt8] {
        let bytes = try readWholeFile(path)
        let digest = SHA256.hash(bytes).hex
        guard digest == sha256.lowercased() else { throw ModelError.checksumMismatch(path: path, expected: sha256, actual: digest) }
        return bytes
    }

    /// An imported network: the card's graph file (checked against its SHA-256) run on `weights`.
    static func graphNetwork(_ card: ModelCard, cardPath: String, weights: [String: Tensor]) throws -> GraphNetwork {
        guard let info = card.architecture.graph else { throw ModelError.invalidCard(path: cardPath, reason: "no graph file") }
        let path = URL(fileURLWithPath: cardPath).deletingLastPathComponent().appendingPathComponent(info.file).path
        let bytes = try checkedBytes(path, sha256: info.sha256)
        let graph: Graph
        do { graph = try JSONDecoder().decode(Graph.self, from: Data(bytes)) } catch let e as DecodingError {
            throw ModelError.invalidCard(path: path, reason: "not a MedVox graph: \(ModelCard.describe(e))")
        }
        // Windows are sized by the card: a dynamic-size network's size multiple must divide
        // evenly through every stride of its encoder, or a window would fail inside the network.
        let factor = graph.downsamplingFactor
        if card.architecture.inputSize == nil, (card.architecture.sizeMultiple ?? 1) % factor != 0 {
            throw ModelError.invalidCard(path: cardPath, reason: "sizeMultiple \(card.architecture.sizeMultiple ?? 1) is not a multiple of the network's total stride \(factor)")
        }
        do {
            return GraphNetwork(executor: try GraphExecutor(graph: graph, weights: weights),
                                outputIsProbability: card.architecture.outputIsProbability ?? false)
        } catch let e as GraphError {
            throw ModelError.invalidCard(path: path, reason: "\(e)")
        }
    }
}
