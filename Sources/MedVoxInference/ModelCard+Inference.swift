import Foundation
import MedVoxCore
import MedVoxNN
import MedVoxTensor

extension ModelCard {
    /// Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"):
    /// calibrated probabilities are `softmax(logits / temperature)`.
    public struct Calibration: Codable, Sendable, Equatable {
        public var temperature: Double
        public init(temperature: Double) { self.temperature = temperature }
    }

    /// Post-processing of a segmentation after argmax, on the input grid.
    ///
    /// ```json
    /// {"largestForeground": true, "largestComponent": [3], "fillHoles": [1]}
    /// ```
    public struct PostprocessSpec: Codable, Sendable, Equatable {
        /// Keep only the largest 26-connected component of the union of all labels > 0.
        public var largestForeground: Bool?
        /// Labels kept to their largest 26-connected component.
        public var largestComponent: [Int]?
        /// Labels whose enclosed background holes are filled.
        public var fillHoles: [Int]?
        public init(largestForeground: Bool? = nil, largestComponent: [Int]? = nil, fillHoles: [Int]? = nil) {
            self.largestForeground = largestForeground
            self.largestComponent = largestComponent
            self.fillHoles = fillHoles
        }
        /// When a card says nothing: drop foreground islands apart from the main body (nnU-Net's
        /// "remove all but the largest foreground region"), nothing per label.
        public static let `default` = PostprocessSpec(largestForeground: true)
    }
}

extension ModelCard {
    /// A freshly initialised network of the card's architecture (weights from `rng`).
    public func makeNetwork(rng: inout SeededGenerator) -> Module {
        let a = architecture
        switch a.kind {
        case "resnet":
            return ResNetClassifier(
                spatialRank: a.spatialRank, inChannels: a.inChannels, classes: a.classes,
                widths: a.widths ?? [16, 32, 64, 128], rng: &rng)
        default:
            return UNet(
                spatialRank: a.spatialRank, inChannels: a.inChannels, classes: a.classes,
                features: a.features ?? [16, 32, 64, 128, 256], rng: &rng)
        }
    }
}

extension ModelCard {
    /// How much coarser than the model's grid an input's voxels may be, on any axis, before
    /// `inputWarnings` says so.
    public static let coarserSpacingLimit = 1.5

    /// Warnings when `volume` (of `modality`, when known) is far from what the card expects:
    /// another modality, or voxels coarser than the model's grid by more than
    /// `coarserSpacingLimit` on some axis (detail the model was trained to see is missing). A finer
    /// input loses nothing: it is resampled onto the model's grid.
    public func inputWarnings(for volume: Volume, modality: String?) -> [String] {
        var out: [String] = []
        if let m = modality?.trimmingCharacters(in: .whitespaces), !m.isEmpty,
            m.uppercased() != input.modality.uppercased()
        {
            out.append("the input's modality is \(m), but model '\(name)' expects \(input.modality)")
        }
        let s = volume.spacing.prefix(3).map { $0 }
        let ratios = (0..<min(3, s.count)).map { s[$0] / input.spacing[$0] }
        if ratios.contains(where: { $0 > Self.coarserSpacingLimit }) {
            func fmt(_ v: [Double]) -> String { v.map { String(format: "%.2f", $0) }.joined(separator: "×") }
            out.append("the input's voxel size \(fmt(s)) mm is coarser than the model's \(fmt(input.spacing)) mm (more than 1.5× on an axis): detail is missing; results may be poor")
        }
        return out
    }
}
