import Foundation
import MedVoxCore

/// One segment of a DICOM Segmentation: the label value in the mask, its name and display colour.
public struct DICOMSegSegment: Sendable {
    public var value: Int
    public var name: String
    /// sRGB 0–255.
    public var rgb: (UInt8, UInt8, UInt8)
    public init(value: Int, name: String, rgb: (UInt8, UInt8, UInt8)) {
        self.value = value
        self.name = name
        self.rgb = rgb
    }
}

/// What the Segmentation says about its making.
public struct DICOMSegOptions: Sendable {
    /// SegmentAlgorithmName (the model's name) and its version.
    public var algorithmName = "MedVox"
    public var algorithmVersion = ""
    /// SoftwareVersions of the equipment modules.
    public var softwareVersion = "?"
    public var seriesDescription = "MedVox segmentation"
    public var seriesNumber = 9901
    /// Copy patient-identifying attributes (name, ID, birth date, sex, age, institution,
    /// referring physician, accession number, study ID) from the source; left empty otherwise.
    public var phi = false
    public init() {}
}

/// A DICOM Segmentation object (PS3.3 A.51, SOP Class 1.2.840.10008.5.1.4.1.1.66.4) made from a
/// label mask on a DICOM series' grid.
///
/// - BINARY segmentation, one segment per label value present in the mask (SegmentNumber 1, 2, …
///   in label order); frames only for the slices where a segment has voxels. An empty mask gives
///   the first segment with one empty frame on the first slice, so the object stays valid.
/// - Coding: category and type SCT 85756007 "Tissue" for every segment (the model card's label
///   name goes in SegmentLabel; cards carry no anatomical codes).
/// - Frame pixels are the mask's slice k in memory order: column i along ImageOrientationPatient's
///   row direction, row j along its column direction, exactly as the DICOM reader assembled them
///   (it never flips in-plane); slice k is `geometry.slices[0][k]` and its ImagePositionPatient
///   (LPS) is copied to the frame's PlanePosition.
/// - New UIDs are 2.25.<random UUID as an integer> (PS3.5 §B.2), no registered root needed.
/// - Study: StudyInstanceUID, StudyDate/Time and FrameOfReferenceUID come from the source;
///   patient-identifying attributes are empty unless `options.phi`.
public enum DICOMSeg {
    public static let sopClassUID = "1.2.840.10008.5.1.4.1.1.66.4"
    /// CR, CT, MR, PET and Secondary Capture Image Storage: single-frame SOP classes.
    static let singleFrameClasses: Set<String> = [
        "1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.128",
        "1.2.840.10008.5.1.4.1.1.7",
    ]

    public enum Failure: MedVoxError {
        case unsupported(path: String, reason: String)
        public var description: String {
            switch self {
            case let .unsupported(p, r): return "\(p): cannot write a DICOM Segmentation: \(r)"
            }
        }
    }

    /// The Segmentation data set for `mask` (label values on the grid of `source`), built module
    /// by module of the Segmentation IOD (PS3.3 A.51.3).
    public static func make(mask: Volume, source: DICOMSource, segments: [DICOMSegSegment], options: DICOMSegOptions = .init(),
                            now: Date = Date()) throws -> DICOMWriteDataset {
        let g = source.geometry
        let path = source.path
        try checkGrid(of: mask, against: g, path: path)
        let nx = g.dims[0], ny = g.dims[1]
        let slices = g.slices[0]
        let refs = try sourceReferences(slices, of: source)
        guard let first = slices.first, let orientation = first.orientation else {
            throw DICOMError.missingAttribute(path: path, keyword: "ImageOrientationPatient")
        }
        let content = try segmentContent(mask, segments: segments, path: path)
        let header = source.series.header

        var ds = DICOMWriteDataset()
        let date = dateString(now), time = timeString(now)
        addSOPCommonAndSeries(to: &ds, options: options, date: date, time: time)
        try addPatientStudyAndFrameOfReference(to: &ds, header: header, options: options, path: path)
        addEquipment(to: &ds, options: options)
        try addImage(to: &ds, columns: nx, rows: ny, options: options, date: date, time: time, path: path)
        ds["SegmentSequence"] = .items(content.segments.enumerated().map { segmentItem($1, number: $0 + 1, options: options) })
        addDimensions(to: &ds)
        ds["SharedFunctionalGroupsSequence"] = .items([sharedFunctionalGroups(first: first, orientation: orientation, spacing: g.spacing)])
        let frames = try perFrameFunctionalGroups(content, slices: slices, references: refs, source: source)
        ds["NumberOfFrames"] = .strings([String(frames.groups.count)])
        ds["PerFrameFunctionalGroupsSequence"] = .items(frames.groups)
        ds["ReferencedSeriesSequence"] = .items([commonInstanceReference(refs, seriesUID: source.series.seriesInstanceUID)])
        ds.set(DICOMTag(0x7FE0, 0x0010), .OB, .bytes(framePixels(content.isEmpty ? nil : mask, frames.list, frameSize: nx * ny)))
        return ds
    }

    /// A single 3D greyscale series read as stored (no tilt resampling), and a one-frame mask on
    /// its grid: what a Segmentation's frames can describe.
    static func checkGrid(of mask: Volume, against g: DICOMGeometry, path: String) throws {
        guard g.slices.count == 1, g.channels == 1 else {
            throw Failure.unsupported(path: path, reason: "the series is 4D or colour; only a single 3D volume is supported")
        }
        guard !g.tiltCorrected, g.decodeDims == g.dims else {
            throw Failure.unsupported(path: path, reason: "the volume was resampled for gantry tilt; its voxels are not the source pixels")
        }
        guard mask.frames == 1, mask.shape3 == Array(g.dims.prefix(3)) else {
            throw Failure.unsupported(path: path, reason: "mask grid \(mask.dims) differs from the series grid \(g.dims)")
        }
    }

    /// The source image behind one slice: SOP class and instance, and the frame number for a
    /// multi-frame SOP class.
    struct SourceReference {
        var sopClassUID: String
        var sopInstanceUID: String
        var frame: Int?
    }

    static func sourceReferences(_ slices: [DICOMSlice], of source: DICOMSource) throws -> [SourceReference] {
        try slices.map { s in
            let f = source.series.files[s.fileIndex]
            guard let inst = s.sopInstanceUID ?? f.dataset.string(.sopInstanceUID) else {
                throw DICOMError.missingAttribute(path: f.path, keyword: "SOPInstanceUID")
            }
            guard let cls = f.dataset.string(DICOMTag(0x0008, 0x0016)) ?? f.meta.string(DICOMTag(0x0002, 0x0002)) else {
                throw DICOMError.missingAttribute(path: f.path, keyword: "SOPClassUID")
            }
            let nFrames = f.dataset.int(DICOMTag(0x0028, 0x0008)) ?? 1
            // ReferencedFrameNumber only for multi-frame SOP classes (dciodvfy refuses it for CT/MR
            // Image Storage files that carry NumberOfFrames anyway; their PlanePosition tells frames apart).
            return SourceReference(sopClassUID: cls, sopInstanceUID: inst, frame: nFrames > 1 && !singleFrameClasses.contains(cls) ? s.frame + 1 : nil)
        }
    }

    /// Which segments the mask holds and on which slices.
    struct SegmentContent {
        /// The segments described, in SegmentNumber order (1, 2, …).
        var segments: [DICOMSegSegment]
        /// Per label value: whether slice k holds it.
        var present: [Int: [Bool]]
        /// True when no segment has a voxel: the first foreground segment is described with one
        /// empty frame, so the object stays valid.
        var isEmpty: Bool
    }

    static func segmentContent(_ mask: Volume, segments: [DICOMSegSegment], path: String) throws -> SegmentContent {
        let nx = mask.dims[0], ny = mask.dims[1], nz = mask.dims[2]
        // A table over label values 0...65535; others are ignored.
        var slot = [Int](repeating: -1, count: 65536)
        for (n, s) in segments.enumerated() where s.value > 0 && s.value < 65536 { slot[s.value] = n }
        var presence = [[Bool]](repeating: [Bool](repeating: false, count: nz), count: segments.count)
        mask.voxels.withUnsafeBufferPointer { vox in
            for k in 0..<nz {
                let base = k * nx * ny
                for p in 0..<(nx * ny) {
                    let x = vox[base + p]
                    guard x >= 1 && x < 65536 && x == x.rounded() else { continue }  // background, NaN, non-labels
                    let n = slot[Int(x)]
                    if n >= 0 { presence[n][k] = true }
                }
            }
        }
        var present: [Int: [Bool]] = [:]
        for (n, s) in segments.enumerated() { present[s.value] = presence[n] }
        let used = segments.filter { present[$0.value]!.contains(true) }
        if !used.isEmpty { return SegmentContent(segments: used, present: present, isEmpty: false) }
        guard let s = segments.first(where: { $0.value != 0 }) else {
            throw Failure.unsupported(path: path, reason: "no foreground label to describe")
        }
        return SegmentContent(segments: [s], present: present, isEmpty: true)
    }

    /// SOP Common (PS3.3 C.12.1), General Series (C.7.3.1) and Segmentation Series (C.8.20.1):
    /// a new series and instance.
    static func addSOPCommonAndSeries(to ds: inout DICOMWriteDataset, options: DICOMSegOptions, date: String, time: String) {
        ds["SpecificCharacterSet"] = .strings(["ISO_IR 192"])
        ds["SOPClassUID"] = .strings([sopClassUID])
        ds["SOPInstanceUID"] = .strings([DICOMWriter.newUID()])
        ds["InstanceCreationDate"] = .strings([date])
        ds["InstanceCreationTime"] = .strings([time])
        ds["Modality"] = .strings(["SEG"])
        ds["SeriesInstanceUID"] = .strings([DICOMWriter.newUID()])
        ds["SeriesNumber"] = .strings([String(options.seriesNumber)])
        ds["SeriesDescription"] = .strings([String(options.seriesDescription.prefix(64))])
        ds["SeriesDate"] = .strings([date])
        ds["SeriesTime"] = .strings([time])
    }

    /// Patient (PS3.3 C.7.1.1), General Study (C.7.2.1) and Frame of Reference (C.7.4.1): the
    /// source's study and frame of reference; the patient's identity only with `options.phi`.
    static func addPatientStudyAndFrameOfReference(
        to ds: inout DICOMWriteDataset, header: DICOMDataset, options: DICOMSegOptions, path: String
    ) throws {
        func copy(_ keyword: String, identifying: Bool) {
            let tag = DICOMDictionary.tag(keyword)!
            let v = (identifying && !options.phi) ? nil : header.string(tag)
            ds[keyword] = .strings(v.map { [$0] } ?? [])
        }
        for k in ["PatientName", "PatientID", "PatientBirthDate", "PatientSex", "ReferringPhysicianName", "AccessionNumber", "StudyID"] {
            copy(k, identifying: true)
        }
        if options.phi {
            for k in ["PatientAge", "InstitutionName"] where header.string(DICOMDictionary.tag(k)!) != nil { copy(k, identifying: true) }
        }
        guard let study = header.string(DICOMDictionary.tag("StudyInstanceUID")!) else {
            throw DICOMError.missingAttribute(path: path, keyword: "StudyInstanceUID")
        }
        ds["StudyInstanceUID"] = .strings([study])
        copy("StudyDate", identifying: false)
        copy("StudyTime", identifying: false)
        guard let frameOfReference = header.string(DICOMDictionary.tag("FrameOfReferenceUID")!) else {
            throw DICOMError.missingAttribute(path: path, keyword: "FrameOfReferenceUID")
        }
        ds["FrameOfReferenceUID"] = .strings([frameOfReference])
        ds["PositionReferenceIndicator"] = .strings([])
    }

    /// General Equipment (PS3.3 C.7.5.1) and Enhanced General Equipment (C.7.5.2).
    static func addEquipment(to ds: inout DICOMWriteDataset, options: DICOMSegOptions) {
        ds["Manufacturer"] = .strings(["MedVox"])
        ds["ManufacturerModelName"] = .strings(["medvox"])
        ds["DeviceSerialNumber"] = .strings(["0"])
        ds["SoftwareVersions"] = .strings([options.softwareVersion])
    }

    /// General Image (PS3.3 C.7.6.1), Segmentation Image (C.8.20.2) and Image Pixel (C.7.6.3):
    /// a BINARY segmentation, 1 bit per pixel.
    static func addImage(
        to ds: inout DICOMWriteDataset, columns nx: Int, rows ny: Int, options: DICOMSegOptions, date: String, time: String, path: String
    ) throws {
        guard nx <= 65535, ny <= 65535 else { throw Failure.unsupported(path: path, reason: "image larger than 65535 pixels") }
        ds["InstanceNumber"] = .strings(["1"])
        ds["ContentDate"] = .strings([date])
        ds["ContentTime"] = .strings([time])
        ds["ImageType"] = .strings(["DERIVED", "PRIMARY"])
        ds["ContentLabel"] = .strings(["MEDVOX_SEG"])
        ds["ContentDescription"] = .strings([String("\(options.algorithmName) \(options.algorithmVersion)".prefix(64))])
        ds["ContentCreatorName"] = .strings([])
        ds["SegmentationType"] = .strings(["BINARY"])
        ds["LossyImageCompression"] = .strings(["00"])
        ds["SamplesPerPixel"] = .uint16([1])
        ds["PhotometricInterpretation"] = .strings(["MONOCHROME2"])
        ds["Rows"] = .uint16([UInt16(ny)])
        ds["Columns"] = .uint16([UInt16(nx)])
        ds["BitsAllocated"] = .uint16([1])
        ds["BitsStored"] = .uint16([1])
        ds["HighBit"] = .uint16([0])
        ds["PixelRepresentation"] = .uint16([0])
    }

    /// One item of the SegmentSequence (PS3.3 C.8.20.2): number, label, algorithm, the coded
    /// category and type, and the display colour in CIELab.
    static func segmentItem(_ s: DICOMSegSegment, number: Int, options: DICOMSegOptions) -> DICOMWriteDataset {
        var item = DICOMWriteDataset()
        item["SegmentNumber"] = .uint16([UInt16(number)])
        item["SegmentLabel"] = .strings([String(s.name.prefix(64))])
        item["SegmentAlgorithmType"] = .strings(["AUTOMATIC"])
        item["SegmentAlgorithmName"] = .strings([String(options.algorithmName.prefix(64))])
        item["SegmentedPropertyCategoryCodeSequence"] = .items([code("85756007", "SCT", "Tissue")])
        item["SegmentedPropertyTypeCodeSequence"] = .items([code("85756007", "SCT", "Tissue")])
        item["RecommendedDisplayCIELabValue"] = .uint16(cieLab(s.rgb))
        return item
    }

    /// Multi-frame Dimension (PS3.3 C.7.6.17): frames indexed by segment number, then position.
    static func addDimensions(to ds: inout DICOMWriteDataset) {
        let dimOrg = DICOMWriter.newUID()
        ds["DimensionOrganizationSequence"] = .items([{ var d = DICOMWriteDataset(); d["DimensionOrganizationUID"] = .strings([dimOrg]); return d }()])
        ds["DimensionOrganizationType"] = .strings(["3D"])
        func dimension(_ index: String, _ group: String, _ label: String) -> DICOMWriteDataset {
            var d = DICOMWriteDataset()
            d["DimensionOrganizationUID"] = .strings([dimOrg])
            d["DimensionIndexPointer"] = .tags([DICOMDictionary.tag(index)!])
            d["FunctionalGroupPointer"] = .tags([DICOMDictionary.tag(group)!])
            d["DimensionDescriptionLabel"] = .strings([label])
            return d
        }
        ds["DimensionIndexSequence"] = .items([
            dimension("ReferencedSegmentNumber", "SegmentIdentificationSequence", "ReferencedSegmentNumber"),
            dimension("ImagePositionPatient", "PlanePositionSequence", "ImagePositionPatient"),
        ])
    }

    /// The shared functional groups (PS3.3 C.7.6.16, A.51.5.1): pixel measures and plane
    /// orientation, the same for every frame.
    static func sharedFunctionalGroups(first: DICOMSlice, orientation: [Double], spacing: [Double]) -> DICOMWriteDataset {
        var shared = DICOMWriteDataset()
        var measures = DICOMWriteDataset()
        let pixelSpacing = first.pixelSpacing ?? [spacing[1], spacing[0]]
        measures["PixelSpacing"] = .strings(pixelSpacing.map(DICOMWriter.ds))
        measures["SliceThickness"] = .strings([DICOMWriter.ds(first.sliceThickness ?? spacing[2])])
        measures["SpacingBetweenSlices"] = .strings([DICOMWriter.ds(spacing[2])])
        shared["PixelMeasuresSequence"] = .items([measures])
        var plane = DICOMWriteDataset()
        plane["ImageOrientationPatient"] = .strings(orientation.map(DICOMWriter.ds))
        shared["PlaneOrientationSequence"] = .items([plane])
        return shared
    }

    /// The per-frame functional groups (PS3.3 C.7.6.16, A.51.5.2): for each segment, one frame
    /// per slice holding it, with its dimension index, plane position, segment and source image;
    /// and the (slice, label value) each frame's pixels come from.
    static func perFrameFunctionalGroups(
        _ content: SegmentContent, slices: [DICOMSlice], references refs: [SourceReference], source: DICOMSource
    ) throws -> (groups: [DICOMWriteDataset], list: [(k: Int, value: Float)]) {
        var perFrame: [DICOMWriteDataset] = []
        var frameList: [(k: Int, value: Float)] = []
        for (n, s) in content.segments.enumerated() {
            let ks = content.isEmpty ? [0] : (0..<slices.count).filter { content.present[s.value]![$0] }
            for k in ks {
                var fg = DICOMWriteDataset()
                var frameContent = DICOMWriteDataset()
                frameContent["DimensionIndexValues"] = .uint32([UInt32(n + 1), UInt32(k + 1)])
                fg["FrameContentSequence"] = .items([frameContent])
                var pos = DICOMWriteDataset()
                guard let p = slices[k].position else {
                    throw DICOMError.missingAttribute(path: source.series.files[slices[k].fileIndex].path, keyword: "ImagePositionPatient")
                }
                pos["ImagePositionPatient"] = .strings(p.map(DICOMWriter.ds))
                fg["PlanePositionSequence"] = .items([pos])
                var segID = DICOMWriteDataset()
                segID["ReferencedSegmentNumber"] = .uint16([UInt16(n + 1)])
                fg["SegmentIdentificationSequence"] = .items([segID])
                fg["DerivationImageSequence"] = .items([derivationImage(refs[k])])
                perFrame.append(fg)
                frameList.append((k, Float(s.value)))
            }
        }
        return (perFrame, frameList)
    }

    /// The Derivation Image functional group's item (PS3.3 C.7.6.16.2.6) for a frame made from
    /// the source image `ref`.
    static func derivationImage(_ ref: SourceReference) -> DICOMWriteDataset {
        var src = DICOMWriteDataset()
        src["ReferencedSOPClassUID"] = .strings([ref.sopClassUID])
        src["ReferencedSOPInstanceUID"] = .strings([ref.sopInstanceUID])
        if let f = ref.frame { src["ReferencedFrameNumber"] = .strings([String(f)]) }
        src["SpatialLocationsPreserved"] = .strings(["YES"])
        src["PurposeOfReferenceCodeSequence"] = .items([code("121322", "DCM", "Source image for image processing operation")])
        var derivation = DICOMWriteDataset()
        derivation["DerivationCodeSequence"] = .items([code("113076", "DCM", "Segmentation")])
        derivation["SourceImageSequence"] = .items([src])
        return derivation
    }

    /// The frames' pixels: 1 bit per pixel, first pixel in the lowest bit, frames back to back
    /// (PS3.5 §8.1.1); frame f is set where slice `list[f].k` of `mask` equals `list[f].value`.
    /// All zero without a mask (an empty segmentation).
    static func framePixels(_ mask: Volume?, _ list: [(k: Int, value: Float)], frameSize: Int) -> [UInt8] {
        var bits = [UInt8](repeating: 0, count: (list.count * frameSize + 7) / 8)
        guard let mask else { return bits }
        mask.voxels.withUnsafeBufferPointer { vox in
            bits.withUnsafeMutableBufferPointer { out in
                for (f, (k, target)) in list.enumerated() {
                    let base = k * frameSize, offset = f * frameSize
                    for p in 0..<frameSize where vox[base + p] == target {
                        let b = offset + p
                        out[b >> 3] |= UInt8(1) << UInt8(b & 7)
                    }
                }
            }
        }
        return bits
    }

    /// Common Instance Reference (PS3.3 C.12.2): the source series and every instance the frames
    /// reference, once each.
    static func commonInstanceReference(_ refs: [SourceReference], seriesUID: String) -> DICOMWriteDataset {
        var seen = Set<String>()
        var instances: [DICOMWriteDataset] = []
        for r in refs where seen.insert(r.sopInstanceUID).inserted {
            var i = DICOMWriteDataset()
            i["ReferencedSOPClassUID"] = .strings([r.sopClassUID])
            i["ReferencedSOPInstanceUID"] = .strings([r.sopInstanceUID])
            instances.append(i)
        }
        var refSeries = DICOMWriteDataset()
        refSeries["SeriesInstanceUID"] = .strings([seriesUID])
        refSeries["ReferencedInstanceSequence"] = .items(instances)
        return refSeries
    }

    /// Builds and writes the Segmentation to `path` (atomically).
    public static func write(mask: Volume, source: DICOMSource, segments: [DICOMSegSegment], options: DICOMSegOptions = .init(),
                             to path: String) throws {
        try DICOMWriter.write(try make(mask: mask, source: source, segments: segments, options: options), to: path)
    }

    static func code(_ value: String, _ scheme: String, _ meaning: String) -> DICOMWriteDataset {
        var c = DICOMWriteDataset()
        c["CodeValue"] = .strings([value])
        c["CodingSchemeDesignator"] = .strings([scheme])
        c["CodeMeaning"] = .strings([meaning])
        return c
    }

    /// sRGB → CIE L*a*b* (D65) scaled to 0–65535 as PS3.3 C.10.7.1.1 asks
    /// (L* 0–100, a* and b* −128–127).
    public static func cieLab(_ rgb: (UInt8, UInt8, UInt8)) -> [UInt16] {
        func lin(_ c: UInt8) -> Double {
            let v = Double(c) / 255
            return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4)
        }
        let r = lin(rgb.0), g = lin(rgb.1), b = lin(rgb.2)
        let x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
        let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
        let z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883
        func f(_ t: Double) -> Double { t > 216.0 / 24389 ? cbrt(t) : (24389.0 / 27 * t + 16) / 116 }
        let l = 116 * f(y) - 16, a = 500 * (f(x) - f(y)), bb = 200 * (f(y) - f(z))
        func scale(_ v: Double, _ lo: Double, _ hi: Double) -> UInt16 { UInt16(max(0, min(65535, ((v - lo) / (hi - lo) * 65535).rounded()))) }
        return [scale(l, 0, 100), scale(a, -128, 127), scale(bb, -128, 127)]
    }

    static func dateString(_ d: Date) -> String { format(d, "yyyyMMdd") }
    static func timeString(_ d: Date) -> String { format(d, "HHmmss") }
    static func format(_ d: Date, _ f: String) -> String {
        let fmt = DateFormatter()
        fmt.locale = Locale(identifier: "en_US_POSIX")
        fmt.timeZone = TimeZone(identifier: "UTC")
        fmt.dateFormat = f
        return fmt.string(from: d)
    }
}
