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
        let bytes = try readWholeFile(weightsPath)
        let digest = SHA256.hash(bytes).hex
        guard digest == card.weights.sha256.lowercased() else {
            throw ModelError.checksumMismatch(path: weightsPath, expected: card.weights.sha256, actual: digest)
        }
        let (tensors, _) = try Safetensors.decode(bytes, path: weightsPath)
        var rng = SeededGenerator(seed: 0)
        let network = card.makeNetwork(rng: &rng)
        try network.loadStateDict(tensors, path: weightsPath)
        network.setTraining(false)
        return LoadedModel(card: card, network: network, cardPath: cardPath)
    }
}
