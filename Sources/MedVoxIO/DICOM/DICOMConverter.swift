import Foundation
import MedVoxCore

/// Options for DICOM → NIfTI conversion.
public struct DICOMConvertOptions: Sendable {
    public var read = DICOMReadOptions()
    /// Put patient-identifying attributes into the JSON sidecars (names never carry them).
    public var phi = false
    /// NIfTI options (datatype override, version, gzip level).
    public var nifti = NIfTIWriteOptions()
    /// Write a BIDS-style JSON sidecar beside each NIfTI.
    public var sidecar = true
    public init() {}
}

/// DICOM file or folder → NIfTI, one file per series, each with a JSON sidecar.
///
/// ```swift
/// let written = try DICOMConverter.convert("study/", to: "out/")        // out/3_CT_head.nii.gz, .json …
/// let one = try DICOMConverter.convert("series/", to: "ct.nii.gz")       // one series
/// ```
public enum DICOMConverter {
    /// Converts `input`. `output` is a .nii/.nii.gz file (the input must then hold one series, or
    /// `--series` picks one) or a folder (ending in "/" or existing): one
    /// `SeriesNumber_SeriesDescription.nii.gz` per series there. Every geometry is checked before
    /// anything is written; each file is written atomically. Returns the NIfTI paths written.
    @discardableResult
    public static func convert(_ input: String, to output: String, options: DICOMConvertOptions = .init()) throws -> [String] {
        let scan = try DICOMScanner.scan(input)
        let notDICOM = scan.skipped.filter { $0.reason == "not DICOM" }
        if let first = notDICOM.first { warn("skipped \(notDICOM.count) non-DICOM file(s), e.g. \(first.path)") }
        for s in scan.skipped where s.reason != "not DICOM" { warn("skipped \(s.path): \(s.reason)") }
        var isDir: ObjCBool = false
        let outIsDir = output.hasSuffix("/") || (FileManager.default.fileExists(atPath: output, isDirectory: &isDir) && isDir.boolValue)
        var chosen: [DICOMSeries]
        if options.read.seriesUID != nil || !outIsDir {
            chosen = [try DICOMSource.pick(scan, path: input, uid: options.read.seriesUID)]
        } else {
            chosen = scan.series.filter { !$0.slices.isEmpty }
            for s in scan.series where s.slices.isEmpty {
                warn("\(s.oneLine): only localizers or excluded images; not converted")
            }
            guard !chosen.isEmpty else { throw DICOMError.noImages(path: input, reason: "only localizers or excluded images") }
        }
        let geometries = try chosen.map { try $0.geometry(options.read.assembly) }
        var targets: [String] = []
        if outIsDir {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            var used = Set<String>()
            for s in chosen {
                var name = s.outputBaseName
                var n = 2
                while used.contains(name) {
                    name = s.outputBaseName + "_\(n)"
                    n += 1
                }
                used.insert(name)
                targets.append((output as NSString).appendingPathComponent(name + ".nii.gz"))
            }
        } else {
            targets = [output]
        }
        for (i, s) in chosen.enumerated() {
            let g = geometries[i]
            for w in g.warnings { warn(w) }
            try write(s, geometry: g, to: targets[i], options: options)
            if options.sidecar {
                let json = sidecarPath(targets[i])
                try AtomicFile.write(sidecar(s, geometry: g, phi: options.phi), to: json)
            }
        }
        return targets
    }

    static func sidecarPath(_ nifti: String) -> String {
        var base = nifti
        for ext in [".nii.gz", ".nii"] where base.lowercased().hasSuffix(ext) {
            base.removeLast(ext.count)
            break
        }
        return base + ".json"
    }

    /// Writes one series. Greyscale series without tilt correction stream straight from the
    /// files into the NIfTI's stored-type buffer (no Float32 volume: peak memory ≈ the output
    /// size); others go through `loadVolume` and the NIfTI writer.
    static func write(_ s: DICOMSeries, geometry g: DICOMGeometry, to path: String, options: DICOMConvertOptions) throws {
        var nifti = options.nifti
        nifti.description = "MedVox from DICOM"
        let type = nifti.datatype ?? g.storedType
        guard g.channels == 1, !g.tiltCorrected, type == g.storedType else {
            let (v, _) = try s.loadVolume(options.read.assembly)
            try NIfTIWriter.write(v, to: path, options: nifti)
            return
        }
        // Header from the NIfTI writer (fed a 1-voxel stand-in with the same geometry), then dims.
        var stand = Volume(dims: [1, 1, 1], spacing: g.spacing, affine: g.affine, storedType: type, scaling: g.scaling)
        if g.dims.count == 4, let tr = s.header.double(.repetitionTime), tr > 0 { stand.timeStep = tr / 1000 }
        var h = NIfTIWriter.header(for: stand, type: type, options: nifti)
        if type != .float32 {  // stored values are written unchanged; the modality LUT goes to scl_*
            h.sclSlope = g.scaling.slope
            h.sclInter = g.scaling.intercept
        }
        if g.dims.contains(where: { $0 > Int(Int16.max) }) && nifti.version == nil {
            nifti.version = 2
            h = NIfTIWriter.header(for: stand, type: type, options: nifti)
        }
        h.dim = [g.dims.count] + g.dims + [Int](repeating: 1, count: 7 - g.dims.count)
        let offset = h.headerSize + 4
        h.voxOffset = Double(offset)
        let count = g.dims.reduce(1, *)
        let (dataBytes, o) = count.multipliedReportingOverflow(by: type.byteSize)
        guard !o, dataBytes <= Runtime.maxMemory else {
            throw DICOMError.tooLarge(path: path, bytes: o ? Int.max : dataBytes, limit: Runtime.maxMemory)
        }
        // Every data byte is overwritten by the decode (each slice of the grid comes from one image),
        // so the buffer is not zero-filled first; the header gap up to vox_offset is zeroed.
        let header = h.encoded()
        var file = [UInt8](unsafeUninitializedCapacity: offset + dataBytes) { buf, n in
            _ = buf.initialize(from: header)
            for i in header.count..<offset { buf[i] = 0 }
            n = offset + dataBytes
        }
        try file.withUnsafeMutableBytes { buf in
            let data = buf.baseAddress! + offset
            switch type {
            case .uint8: try s.decodeStored(g, into: data.assumingMemoryBound(to: UInt8.self))
            case .int8: try s.decodeStored(g, into: data.assumingMemoryBound(to: Int8.self))
            case .int16: try s.decodeStored(g, into: data.assumingMemoryBound(to: Int16.self))
            case .uint16: try s.decodeStored(g, into: data.assumingMemoryBound(to: UInt16.self))
            case .int32: try s.decodeStored(g, into: data.assumingMemoryBound(to: Int32.self))
            case .uint32: try s.decodeStored(g, into: data.assumingMemoryBound(to: UInt32.self))
            default: try s.decodeReal(g, into: data.assumingMemoryBound(to: Float.self))
            }
        }
        let gz = path.lowercased().hasSuffix(".gz")
        try AtomicFile.write(to: path) { sink in
            try file.withUnsafeBytes { buf in
                if gz {
                    try Gzip.compress(buf, level: nifti.compressionLevel) { try sink.write($0) }
                } else {
                    try sink.write(buf)
                }
            }
        }
    }

    /// The BIDS-style sidecar: acquisition parameters under BIDS names (times in seconds), no
    /// patient-identifying attributes unless `phi`.
    public static func sidecar(_ s: DICOMSeries, geometry g: DICOMGeometry, phi: Bool) -> String {
        let h = s.header
        var f: [(String, String)] = []
        func text(_ k: String, _ t: DICOMTag) { if let v = h.string(t) { f.append((k, jsonString(v))) } }
        func num(_ k: String, _ t: DICOMTag, scale: Double = 1) { if let v = h.double(t) { f.append((k, jsonNumber(v * scale))) } }
        text("Modality", .modality)
        text("Manufacturer", .manufacturer)
        text("ManufacturersModelName", .manufacturerModelName)
        text("SoftwareVersions", .softwareVersions)
        num("MagneticFieldStrength", .magneticFieldStrength)
        text("BodyPartExamined", .bodyPartExamined)
        text("SeriesDescription", .seriesDescription)
        text("ProtocolName", .protocolName)
        if let n = s.seriesNumber { f.append(("SeriesNumber", String(n))) }
        let it = h.strings(.imageType)
        if !it.isEmpty { f.append(("ImageType", "[" + it.map(jsonString).joined(separator: ", ") + "]")) }
        text("ScanningSequence", .scanningSequence)
        text("SequenceVariant", .sequenceVariant)
        num("SliceThickness", .sliceThickness)
        if g.dims[2] > 1 { f.append(("SpacingBetweenSlices", jsonNumber(g.spacing[2]))) }
        num("RepetitionTime", .repetitionTime, scale: 0.001)
        num("EchoTime", .echoTime, scale: 0.001)
        num("InversionTime", .inversionTime, scale: 0.001)
        num("FlipAngle", .flipAngle)
        num("KVP", .kvp)
        if g.tiltDegrees > 0.01 {
            f.append(("GantryTilt", jsonNumber(g.tiltDegrees)))
            f.append(("TiltCorrected", g.tiltCorrected ? "true" : "false"))
        }
        if !g.scaling.isIdentity {
            f.append(("RescaleSlope", jsonNumber(g.scaling.slope)))
            f.append(("RescaleIntercept", jsonNumber(g.scaling.intercept)))
        }
        let o = s.slices.first?.orientation ?? []
        if o.count == 6 { f.append(("ImageOrientationPatientDICOM", "[" + o.map(jsonNumber).joined(separator: ", ") + "]")) }
        f.append(("TransferSyntaxUID", jsonString(s.transferSyntax.uid)))
        if phi {
            text("PatientName", .patientName)
            text("PatientID", .patientID)
            text("PatientBirthDate", .patientBirthDate)
            text("PatientSex", .patientSex)
            text("PatientAge", .patientAge)
            text("InstitutionName", .institutionName)
            text("StationName", .stationName)
            text("ReferringPhysicianName", .referringPhysicianName)
            text("StudyDate", .studyDate)
            text("AcquisitionTime", .acquisitionTime)
            text("StudyInstanceUID", .studyInstanceUID)
            f.append(("SeriesInstanceUID", jsonString(s.seriesInstanceUID)))
        }
        f.append(("ConversionSoftware", jsonString("medvox")))
        return "{\n" + f.map { "  \(jsonString($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }
}

/// Stores decoded values as the integer type `T` (the NIfTI's stored type).
struct IntegerSink<T: FixedWidthInteger>: StoredValueSink {
    let out: UnsafeMutablePointer<T>
    @inline(__always) mutating func put(_ i: Int, _ v: Int32) { out[i] = T(truncatingIfNeeded: v) }
}

extension DICOMSeries {
    /// (file index, [(frame, destination slice, scaling)]) jobs for a geometry.
    func jobs(_ g: DICOMGeometry) -> [(Int, [(frame: Int, dest: Int, scaling: IntensityScaling)])] {
        var jobs: [Int: [(frame: Int, dest: Int, scaling: IntensityScaling)]] = [:]
        let nz = g.decodeDims[2]
        for (t, stack) in g.slices.enumerated() {
            for (k, s) in stack.enumerated() { jobs[s.fileIndex, default: []].append((s.frame, t * nz + k, s.scaling)) }
        }
        return jobs.sorted { $0.key < $1.key }
    }

    /// Decodes every slice in parallel (one file per task) into `sink(destinationSlice, scaling)`.
    func decodeAll<S: StoredValueSink>(_ g: DICOMGeometry, _ sink: @escaping (Int, IntensityScaling) -> S) throws {
        let work = jobs(g)
        let errorBox = ErrorBox()
        let progress: MedVoxCore.Progress? = work.count >= 64 || g.slices.count * g.decodeDims[2] >= 64 ? MedVoxCore.Progress("decode \(outputBaseName)", total: work.count) : nil
        let channelStride = g.decodeDims[0] * g.decodeDims[1] * g.decodeDims[2]
        parallelFor(work.count) { w in
            if errorBox.error != nil { return }
            let (fi, list) = work[w]
            let file = files[fi]
            do {
                let info = try file.imageInfo()
                guard info.rows == g.decodeDims[1], info.columns == g.decodeDims[0] else {
                    throw DICOMError.inconsistentSeries(path: file.path, reason: "image size \(info.columns)x\(info.rows) differs from the series' \(g.decodeDims[0])x\(g.decodeDims[1])")
                }
                var byFrame: [Int: (Int, IntensityScaling)] = [:]
                for j in list { byFrame[j.frame] = (j.dest, j.scaling) }
                try file.decodeFrames(list.map(\.frame).sorted(), info: info, channelStride: channelStride) { f in
                    let (dest, sc) = byFrame[f]!
                    return sink(dest, sc)
                }
            } catch {
                errorBox.set(error)
            }
            progress?.advance()
        }
        if let e = errorBox.error { throw e }
        progress?.finish()
    }

    /// Stored values (no modality LUT) into `out`, slice by slice in voxel order.
    func decodeStored<T: FixedWidthInteger>(_ g: DICOMGeometry, into out: UnsafeMutablePointer<T>) throws {
        let plane = g.decodeDims[0] * g.decodeDims[1]
        try decodeAll(g) { dest, _ in IntegerSink(out: out + dest * plane) }
    }

    /// Real values (per-slice modality LUT applied) into `out`.
    func decodeReal(_ g: DICOMGeometry, into out: UnsafeMutablePointer<Float>) throws {
        let plane = g.decodeDims[0] * g.decodeDims[1]
        let info = try g.slices.first?.first.map { try files[$0.fileIndex].imageInfo() }
        let u32 = info.map { !$0.isSigned && $0.bitsStored == 32 } ?? false
        try decodeAll(g) { dest, sc in
            FloatSink(out: out + dest * plane, slope: Float(sc.slope), intercept: Float(sc.intercept), unsigned32: u32)
        }
    }
}
