import Foundation

extension ModelCard {
    /// The card as ONNX `metadata_props` entries for `medvox export`: `medvox.card` (the whole
    /// card as JSON: labels, input modality, spacing and patch size, preprocessing, provenance)
    /// and `medvox.preprocessing` (the preprocessing pipeline alone, `{"steps": [...], "version": 1}`),
    /// from which `medvox import` of an exported file can rebuild the card.
    public var onnxMetadata: [(key: String, value: String)] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        let steps = (try? e.encode(preprocessing)) ?? Data()
        return [("medvox.card", String(decoding: encoded(), as: UTF8.self)), ("medvox.preprocessing", String(decoding: steps, as: UTF8.self))]
    }
}
