import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxInference

extension DICOMSeg {
    /// The segments for a model's labels (background left out), coloured as the report's
    /// figures colour them (`LabelColors`).
    public static func segments(for card: ModelCard) -> [DICOMSegSegment] {
        card.labels.filter { $0.value != 0 }.map { DICOMSegSegment(value: $0.value, name: $0.name, rgb: LabelColors.color($0.value)) }
    }

    /// The DICOM Segmentation data set for `mask`, made by `model` on `source`'s grid (throws
    /// when the source is not DICOM or the grids differ; `path` names the output in errors).
    public static func make(mask: Volume, source: any ImageSource, model: LoadedModel, software: String, phi: Bool,
                            path: String) throws -> DICOMWriteDataset {
        guard let dicom = source as? DICOMSource else {
            throw Failure.unsupported(path: path, reason: "the input is not DICOM (--dicom-seg needs a DICOM series)")
        }
        var o = DICOMSegOptions()
        o.algorithmName = model.card.name
        o.algorithmVersion = model.card.version
        o.softwareVersion = software
        o.phi = phi
        return try make(mask: mask, source: dicom, segments: segments(for: model.card), options: o)
    }

    /// Writes `mask`, made by `model` on `source`'s grid, as a DICOM Segmentation at `path`.
    public static func write(mask: Volume, source: any ImageSource, model: LoadedModel, software: String, phi: Bool, to path: String) throws {
        try DICOMWriter.write(try make(mask: mask, source: source, model: model, software: software, phi: phi, path: path), to: path)
    }
}
