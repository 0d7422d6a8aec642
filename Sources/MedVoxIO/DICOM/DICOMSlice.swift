import Foundation
import MedVoxCore

/// One 2D image of a series: a frame of a file, with the geometry and modality LUT that apply to
/// it. Classic files give one slice per file; enhanced multi-frame files one per frame, each with
/// its per-frame functional groups (PS3.3 C.7.6.16) resolved against the shared ones.
public struct DICOMSlice: Sendable {
    /// Index into the series' `files`.
    public var fileIndex: Int
    /// Frame index in the file (0 for single-frame files).
    public var frame: Int
    /// ImagePositionPatient (LPS mm) of the first transmitted pixel, when known.
    public var position: [Double]?
    /// ImageOrientationPatient: row then column direction cosines (LPS), when known.
    public var orientation: [Double]?
    /// PixelSpacing: [between rows (mm), between columns (mm)].
    public var pixelSpacing: [Double]?
    public var sliceThickness: Double?
    /// Modality LUT (RescaleSlope/RescaleIntercept, PS3.3 C.11.1).
    public var scaling: IntensityScaling
    public var instanceNumber: Int?
    public var acquisitionNumber: Int?
    public var echoNumber: Int?
    public var echoTime: Double?
    public var temporalPosition: Int?
    public var sopInstanceUID: String?
    public var imageType: [String]

    /// A localizer / scout image (ImageType value 3 LOCALIZER, or the CT "SCOUT"/MR "LOCALIZER" wording).
    public var isLocalizer: Bool { imageType.contains { $0 == "LOCALIZER" || $0 == "SCOUT" } }
    /// ImageType value 1 DERIVED (PS3.3 C.7.6.1.1.2).
    public var isDerived: Bool { imageType.first == "DERIVED" }
}

extension DICOMFile {
    /// The slices this file contributes: one per frame.
    func slices(fileIndex: Int) throws -> [DICOMSlice] {
        let ds = dataset
        let info = try imageInfo()
        let imageType = ds.strings(.imageType).map { $0.uppercased() }
        func scaling(_ d: DICOMDataset) -> IntensityScaling? {
            guard d.contains(.rescaleSlope) || d.contains(.rescaleIntercept) else { return nil }
            var s = d.double(.rescaleSlope) ?? 1
            if s == 0 || !s.isFinite { s = 1 }
            return IntensityScaling(slope: s, intercept: d.double(.rescaleIntercept) ?? 0)
        }
        let base = DICOMSlice(
            fileIndex: fileIndex, frame: 0,
            position: validated(ds.doubles(.imagePositionPatient), 3),
            orientation: validated(ds.doubles(.imageOrientationPatient), 6),
            pixelSpacing: validated(ds.doubles(.pixelSpacing), 2),
            sliceThickness: ds.double(.sliceThickness),
            scaling: scaling(ds) ?? .identity,
            instanceNumber: ds.int(.instanceNumber), acquisitionNumber: ds.int(.acquisitionNumber),
            echoNumber: ds.int(.echoNumbers), echoTime: ds.double(.echoTime),
            temporalPosition: ds.int(.temporalPositionIdentifier),
            sopInstanceUID: ds.string(.sopInstanceUID), imageType: imageType)
        let perFrame = ds.items(.perFrameFunctionalGroupsSequence)
        let shared = ds.items(.sharedFunctionalGroupsSequence).first
        if !perFrame.isEmpty || shared != nil {
            // Enhanced multi-frame: each attribute from the frame's group, else the shared group.
            func group(_ f: Int, _ seq: DICOMTag) -> DICOMDataset? {
                if f < perFrame.count, let d = perFrame[f].items(seq).first { return d }
                return shared?.items(seq).first
            }
            return (0..<info.numberOfFrames).map { f in
                var s = base
                s.frame = f
                if let p = group(f, .planePositionSequence) { s.position = validated(p.doubles(.imagePositionPatient), 3) ?? s.position }
                if let o = group(f, .planeOrientationSequence) { s.orientation = validated(o.doubles(.imageOrientationPatient), 6) ?? s.orientation }
                if let m = group(f, .pixelMeasuresSequence) {
                    s.pixelSpacing = validated(m.doubles(.pixelSpacing), 2) ?? s.pixelSpacing
                    s.sliceThickness = m.double(.sliceThickness) ?? s.sliceThickness
                }
                if let t = group(f, .pixelValueTransformationSequence), let sc = scaling(t) { s.scaling = sc }
                if let c = group(f, .frameContentSequence) {
                    s.temporalPosition = c.int(DICOMTag(0x0020, 0x9128)) ?? s.temporalPosition  // TemporalPositionIndex
                }
                if let e = group(f, DICOMTag(0x0018, 0x9114)), let te = e.double(DICOMTag(0x0018, 0x9082)) {  // MREchoSequence / EffectiveEchoTime
                    s.echoTime = te
                }
                if let ft = group(f, DICOMTag(0x0018, 0x9226)) ?? group(f, DICOMTag(0x0018, 0x9329)) {  // MR/CT Image Frame Type
                    let v = ft.strings(DICOMTag(0x0008, 0x9007)).map { $0.uppercased() }
                    if !v.isEmpty { s.imageType = v }
                }
                return s
            }
        }
        if let m = info.mosaic { return mosaicSlices(base, m) }
        if info.numberOfFrames == 1 { return [base] }
        // Classic multi-frame: frames stacked along the normal, SpacingBetweenSlices apart (or by
        // GridFrameOffsetVector, PS3.3 C.8.8.3.2).
        let offsets = ds.doubles(DICOMTag(0x3004, 0x000C))
        let step = ds.double(.spacingBetweenSlices) ?? base.sliceThickness ?? 1
        let o = base.orientation ?? [1, 0, 0, 0, 1, 0]
        let n = cross([o[0], o[1], o[2]], [o[3], o[4], o[5]])
        let p0 = base.position ?? [0, 0, 0]
        return (0..<info.numberOfFrames).map { f in
            var s = base
            s.frame = f
            let d = offsets.count == info.numberOfFrames ? offsets[f] - offsets[0] : Double(f) * step
            s.position = [p0[0] + d * n[0], p0[1] + d * n[1], p0[2] + d * n[2]]
            if base.position == nil && base.orientation == nil { s.position = nil }
            return s
        }
    }

    private func validated(_ v: [Double], _ count: Int) -> [Double]? {
        v.count >= count && v.prefix(count).allSatisfy({ $0.isFinite }) ? Array(v.prefix(count)) : nil
    }
}

func cross(_ a: [Double], _ b: [Double]) -> [Double] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

func dot(_ a: [Double], _ b: [Double]) -> Double { a[0] * b[0] + a[1] * b[1] + a[2] * b[2] }

func norm(_ a: [Double]) -> Double { dot(a, a).squareRoot() }
