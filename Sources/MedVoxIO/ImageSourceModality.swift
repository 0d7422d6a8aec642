extension ImageSource {
    /// The modality the header names: DICOM's Modality (0008,0060), e.g. "CT" or "MR"; nil when
    /// the format has no such field (NIfTI) or the value is empty.
    public var modality: String? {
        metadata.first { $0.key.lowercased() == "modality" }.map { $0.value.plain }.flatMap { $0.isEmpty ? nil : $0 }
    }
}
