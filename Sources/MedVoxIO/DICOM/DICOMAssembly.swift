import Foundation
import MedVoxCore

/// Choices for assembling a series into a volume.
public struct DICOMAssemblyOptions: Sendable {
    /// Accept non-uniform slice spacing (gaps, uneven steps) using the mean spacing, with a warning.
    public var allowIrregular = false
    /// Resample a gantry-tilted series onto an orthogonal grid (as dcm2niix does) instead of
    /// keeping a sheared affine.
    public var correctTilt = false
    public init(allowIrregular: Bool = false, correctTilt: Bool = false) {
        self.allowIrregular = allowIrregular
        self.correctTilt = correctTilt
    }
}

/// How a series' slices map onto a voxel grid, worked out from the headers alone.
public struct DICOMGeometry: Sendable {
    /// [columns, rows, slices] plus, for 4D series, time points (or 3 colour channels).
    public var dims: [Int]
    /// The stack of images as stored: equal to `dims` except when tilt correction widens the
    /// in-plane grid to keep every shifted voxel.
    public var decodeDims: [Int]
    /// Tilt correction: in-plane shift of slice k is k·(di, dj) pixels; the corrected grid starts
    /// at pixel (startI, startJ) of slice 0's grid.
    var tiltShift: (di: Double, dj: Double, startI: Int, startJ: Int) = (0, 0, 0, 0)
    /// Voxel → RAS+ mm (DICOM LPS converted: x and y negated, PS3.3 C.7.6.2.1.1).
    public var affine: Affine
    /// Voxel size in mm along i (between columns), j (between rows), k (between slices).
    public var spacing: [Double]
    /// Slices in voxel order: `slices[t][k]`.
    public var slices: [[DICOMSlice]]
    /// Colour channels per voxel (1 or 3; 3 fill the fourth dimension).
    public var channels: Int
    /// Gantry tilt in degrees (angle between the slice normal and the slice stacking direction).
    public var tiltDegrees: Double
    /// True when tilt was corrected by resampling.
    public var tiltCorrected: Bool
    /// Notes for the user (gaps, duplicates, irregular spacing, tilt, non-orthonormal cosines).
    public var warnings: [String]
    /// The stored type and modality LUT when every slice shares them; float32 and identity otherwise.
    public var storedType: ScalarType
    public var scaling: IntensityScaling
}

extension DICOMSeries {
    var label: String { "series \(seriesNumber.map(String.init) ?? "?") \(seriesInstanceUID)\(splitLabel.isEmpty ? "" : " (\(splitLabel))")" }

    /// Sorts the slices and derives the grid and affine (PS3.3 C.7.6.2.1.1):
    /// column i runs along the row cosine × column spacing, j along the column cosine × row
    /// spacing, k along the step between sorted ImagePositionPatient values projected on the
    /// normal (row × column). Throws for non-uniform spacing unless `allowIrregular`.
    ///
    /// The steps, in order: direction cosines (`directionCosines`), copies dropped
    /// (`withoutCopies`), slices stacked by position (`stackByPosition`), the slice step and
    /// gantry tilt (`sliceStep`), the tilt-corrected grid when asked (`tiltCorrectedGrid`), the
    /// RAS+ affine (`rasAffine`), and the stored type (`storedTypeAndScaling`).
    public func geometry(_ options: DICOMAssemblyOptions = .init()) throws -> DICOMGeometry {
        guard let first = slices.first else { throw DICOMError.noImages(path: label, reason: "every image is a localizer or was excluded") }
        let path = files[first.fileIndex].path
        let info = try files[first.fileIndex].imageInfo()
        var warnings: [String] = []

        let (r, c) = try Self.directionCosines(first.orientation, path: path, warnings: &warnings)
        let n = cross(r, c)
        let ps = first.pixelSpacing ?? {
            warnings.append("\(path): no PixelSpacing; assuming 1 mm")
            return [1, 1]
        }()
        let positioned = slices.allSatisfy { $0.position != nil }
        if !positioned { warnings.append("\(path): slices without ImagePositionPatient; ordered by InstanceNumber") }
        let unique = withoutCopies(warnings: &warnings)
        let dist: (DICOMSlice) -> Double = { s in positioned ? dot(s.position!, n) : Double(s.instanceNumber ?? 0) }
        let (stacks, nt) = Self.stackByPosition(unique, distance: dist, path: path, warnings: &warnings)
        let nz = stacks.count
        if nt > 1 && info.channels > 1 {
            throw DICOMError.inconsistentSeries(path: path, reason: "colour images with several images per position are not supported")
        }
        let (step, tilt) = try sliceStep(
            stacks, normal: n, positioned: positioned, distance: dist, options: options, path: path, warnings: &warnings)

        var p0 = stacks[0][0].position ?? [0, 0, 0]
        var cols: [[Double]] = [r.map { $0 * ps[1] }, c.map { $0 * ps[0] }, step]
        let correct = options.correctTilt && tilt > 0.01
        var gridCols = info.columns, gridRows = info.rows
        var shift: (di: Double, dj: Double, startI: Int, startJ: Int) = (0, 0, 0, 0)
        if correct {
            let grid = Self.tiltCorrectedGrid(
                step: step, normal: n, row: r, column: c, pixelSpacing: ps, slices: nz, columns: info.columns, rows: info.rows)
            (gridCols, gridRows, shift) = (grid.columns, grid.rows, grid.shift)
            cols[2] = grid.sliceStep
            p0 = (0..<3).map { p0[$0] + Double(shift.startI) * cols[0][$0] + Double(shift.startJ) * cols[1][$0] }
        }
        let a = Self.rasAffine(columns: cols, origin: p0)

        var decodeDims = [info.columns, info.rows, nz]
        if nt > 1 { decodeDims.append(nt) }
        if info.channels > 1 { decodeDims.append(info.channels) }
        var dims = decodeDims
        dims[0] = gridCols
        dims[1] = gridRows
        let total = (dims + decodeDims).reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
        let count = dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
        guard count > 0, gridCols < 1 << 20, gridRows < 1 << 20, count <= Runtime.maxMemory / 8, total > 0 else {
            throw DICOMError.tooLarge(path: path, bytes: count &* 8, limit: Runtime.maxMemory)
        }
        let bySlice = (0..<nt).map { t in stacks.map { $0[t] } }
        let (stored, scaling) = Self.storedTypeAndScaling(info, first: first, slices: unique)
        return DICOMGeometry(
            dims: dims, decodeDims: decodeDims, tiltShift: shift, affine: a, spacing: [ps[1], ps[0], correct ? abs(dot(step, n)) : norm(step)],
            slices: bySlice, channels: info.channels, tiltDegrees: tilt, tiltCorrected: correct,
            warnings: warnings, storedType: stored, scaling: scaling)
    }

    /// The row and column direction cosines of ImageOrientationPatient (PS3.3 C.7.6.2.1.1),
    /// made orthonormal: slightly-off cosines (as some scanners round them) are normalised and
    /// their non-orthogonality split evenly between both (symmetric Gram–Schmidt), with a warning;
    /// two nearly parallel or tiny vectors are refused. Without the attribute: axial, LPS.
    static func directionCosines(_ orientation: [Double]?, path: String, warnings: inout [String]) throws -> (row: [Double], column: [Double]) {
        guard let o = orientation else {
            warnings.append("\(path): no ImageOrientationPatient; assuming axial LPS")
            return ([1.0, 0, 0], [0.0, 1, 0])
        }
        var r = Array(o[0..<3]), c = Array(o[3..<6])
        let nr = norm(r), nc = norm(c)
        guard nr > 0.5, nc > 0.5, abs(dot(r, c)) / (nr * nc) < 0.5 else {
            throw DICOMError.invalidAttribute(path: path, keyword: "ImageOrientationPatient",
                                              value: o.map { String($0) }.joined(separator: "\\"), reason: "not two independent directions")
        }
        if abs(nr - 1) > 1e-4 || abs(nc - 1) > 1e-4 || abs(dot(r, c)) > 1e-4 {
            warnings.append(String(format: "%@: direction cosines not orthonormal (|row|=%.5f |col|=%.5f row·col=%.5f); orthonormalised", path, nr, nc, dot(r, c)))
        }
        r = r.map { $0 / nr }
        c = c.map { $0 / nc }
        for _ in 0..<8 where abs(dot(r, c)) > 1e-15 {
            let d = dot(r, c)
            let r2 = zip(r, c).map { $0 - d / 2 * $1 }, c2 = zip(c, r).map { $0 - d / 2 * $1 }
            r = r2.map { $0 / norm(r2) }
            c = c2.map { $0 / norm(c2) }
        }
        return (r, c)
    }

    /// The slices without copies: a file whose SOPInstanceUID (PS3.3 C.12.1, unique per
    /// instance) another file already has is the same image again, and all its frames go.
    func withoutCopies(warnings: inout [String]) -> [DICOMSlice] {
        var seen = [String: Int]()
        var copies = Set<Int>()
        for s in slices where s.frame == 0 {
            guard let u = s.sopInstanceUID else { continue }
            if let other = seen[u], other != s.fileIndex {
                copies.insert(s.fileIndex)
                warnings.append("\(files[s.fileIndex].path): duplicate of SOPInstanceUID \(u) (\(files[other].path)); ignored")
            } else {
                seen[u] = s.fileIndex
            }
        }
        return slices.filter { !copies.contains($0.fileIndex) }
    }

    /// Slices sorted by `dist` (their ImagePositionPatient along the normal, PS3.3 C.7.6.2.1.1;
    /// ties by TemporalPositionIdentifier, AcquisitionNumber, InstanceNumber, frame) and grouped
    /// by position (within 0.01 mm): one stack per position, `timePoints` images in each (a 4D
    /// series). Positions holding different numbers of images keep their first, with a warning.
    static func stackByPosition(
        _ slices: [DICOMSlice], distance dist: (DICOMSlice) -> Double, path: String, warnings: inout [String]
    ) -> (stacks: [[DICOMSlice]], timePoints: Int) {
        func tieKey(_ s: DICOMSlice) -> [Double] {
            [Double(s.temporalPosition ?? 0), Double(s.acquisitionNumber ?? 0), Double(s.instanceNumber ?? 0), Double(s.frame)]
        }
        let sorted = slices.sorted { a, b in
            let da = dist(a), db = dist(b)
            if abs(da - db) > 1e-3 { return da < db }
            return tieKey(a).lexicographicallyPrecedes(tieKey(b))
        }
        var stacks: [[DICOMSlice]] = []
        for s in sorted {
            if let last = stacks.last?.first, abs(dist(last) - dist(s)) <= 1e-2 {
                stacks[stacks.count - 1].append(s)
            } else {
                stacks.append([s])
            }
        }
        let counts = Set(stacks.map(\.count))
        if counts.count == 1 { return (stacks, counts.first!) }
        let dup = stacks.filter { $0.count > 1 }.map { String(format: "%.3f", dist($0[0])) }
        warnings.append("\(path): \(dup.count) slice position(s) occur more than once (\(dup.prefix(5).joined(separator: ", ")) mm along the normal); keeping the first image at each")
        return (stacks.map { [$0[0]] }, 1)
    }

    /// The step from one slice to the next (LPS mm) and the gantry tilt in degrees. With
    /// positions: the mean step from the first to the last position; steps that differ from the
    /// median by more than 1% are gaps or irregular spacing, refused unless `allowIrregular`;
    /// tilt is the angle between the step and the normal. Without positions, or with one slice:
    /// SpacingBetweenSlices (0018,0088) along the normal, else SliceThickness (0018,0050).
    func sliceStep(
        _ stacks: [[DICOMSlice]], normal n: [Double], positioned: Bool, distance dist: (DICOMSlice) -> Double,
        options: DICOMAssemblyOptions, path: String, warnings: inout [String]
    ) throws -> (step: [Double], tilt: Double) {
        let first = slices[0], nz = stacks.count
        guard nz > 1 && positioned else {
            if let sbs = files[first.fileIndex].dataset.double(.spacingBetweenSlices), sbs > 0 { return (n.map { $0 * sbs }, 0) }
            return (n.map { $0 * (first.sliceThickness ?? 1) }, 0)
        }
        let d = stacks.map { dist($0[0]) }
        let diffs = zip(d.dropFirst(), d).map { $0 - $1 }
        let med = diffs.sorted()[diffs.count / 2]
        let tol = max(0.01, 0.01 * med)
        var gaps: [String] = []
        var irregular = false
        for (k, df) in diffs.enumerated() where abs(df - med) > tol {
            irregular = true
            let m = (df / med).rounded()
            if m >= 2 && abs(df - m * med) <= tol * m {
                gaps.append(String(format: "%d missing between %.3f and %.3f mm", Int(m) - 1, d[k], d[k + 1]))
            } else {
                gaps.append(String(format: "step %.3f mm between %.3f and %.3f mm", df, d[k], d[k + 1]))
            }
        }
        let p0 = stacks[0][0].position!, pl = stacks[nz - 1][0].position!
        let step = zip(pl, p0).map { ($0 - $1) / Double(nz - 1) }
        if irregular {
            let detail = "usual step \(String(format: "%.3f", med)) mm; " + gaps.prefix(6).joined(separator: "; ") + (gaps.count > 6 ? "; …" : "")
            guard options.allowIrregular else { throw DICOMError.irregularSpacing(path: path, detail: detail) }
            warnings.append("\(path): irregular slice spacing (\(detail)); assembled with the mean step \(String(format: "%.4f", dot(step, n))) mm")
        }
        let along = dot(step, n)
        let inPlane = zip(step, n).map { $0 - along * $1 }
        let tilt = atan2(norm(inPlane), abs(along)) * 180 / .pi
        if tilt > 0.01 {
            warnings.append(String(format: "%@: gantry tilt of %.2f° detected%@", path, tilt,
                                   options.correctTilt ? "; resampled onto an orthogonal grid" : "; kept as a sheared affine (use --correct-tilt to resample)"))
        }
        return (step, tilt)
    }

    /// The orthogonal grid a tilted stack is resampled onto (as dcm2niix does): slice k's pixel
    /// (i, j) lands on corrected pixel (i + k·di, j + k·dj), so the in-plane grid widens until
    /// every slice fits and starts at pixel (startI, startJ) of slice 0; slices then step along
    /// the normal only.
    static func tiltCorrectedGrid(
        step: [Double], normal n: [Double], row r: [Double], column c: [Double], pixelSpacing ps: [Double], slices nz: Int,
        columns: Int, rows: Int
    ) -> (columns: Int, rows: Int, shift: (di: Double, dj: Double, startI: Int, startJ: Int), sliceStep: [Double]) {
        let along = dot(step, n)
        let e = zip(step, n).map { $0 - along * $1 }
        let di = dot(e, r) / ps[1], dj = dot(e, c) / ps[0]
        let total = (Double(nz - 1) * di, Double(nz - 1) * dj)
        let startI = Int((min(0, total.0) + 1e-6).rounded(.down)), startJ = Int((min(0, total.1) + 1e-6).rounded(.down))
        let gridCols = Int((Double(columns - 1) + max(0, total.0) - 1e-6).rounded(.up)) - startI + 1
        let gridRows = Int((Double(rows - 1) + max(0, total.1) - 1e-6).rounded(.up)) - startJ + 1
        return (gridCols, gridRows, (di, dj, startI, startJ), n.map { $0 * along })
    }

    /// Voxel → RAS+ mm from the LPS voxel axes (`columns`: the i, j and k steps) and the LPS
    /// position of voxel (0, 0, 0) (PS3.3 C.7.6.2.1.1): x and y negated.
    static func rasAffine(columns cols: [[Double]], origin p0: [Double]) -> Affine {
        var a = Affine.identity
        for row in 0..<3 {
            let sign: Double = row < 2 ? -1 : 1
            for col in 0..<3 { a[row, col] = sign * cols[col][row] }
            a[row, 3] = sign * p0[row]
        }
        return a
    }

    /// The type the voxels are stored as, from BitsAllocated, BitsStored and PixelRepresentation
    /// (PS3.3 C.7.6.3.1), and the modality LUT (RescaleSlope/Intercept, C.11.1.1.2) when every
    /// slice shares it; float32 with identity scaling when the slices' LUTs differ, uint8 for
    /// colour.
    static func storedTypeAndScaling(_ info: DICOMPixelInfo, first: DICOMSlice, slices: [DICOMSlice]) -> (ScalarType, IntensityScaling) {
        var stored: ScalarType
        switch (info.bitsAllocated, info.isSigned) {
        case (1, _), (8, false): stored = .uint8
        case (8, true): stored = .int8
        case (16, true): stored = .int16
        case (16, false): stored = info.bitsStored < 16 ? .int16 : .uint16
        case (_, true): stored = .int32
        default: stored = info.bitsStored < 32 ? .int32 : .uint32
        }
        var scaling = first.scaling
        if Set(slices.map { "\($0.scaling.slope) \($0.scaling.intercept)" }).count > 1 {
            stored = .float32
            scaling = .identity
        }
        if info.channels > 1 { stored = .uint8 }
        return (stored, scaling)
    }

    /// Decodes the series into a `Volume` (Float32 real values: modality LUT applied per slice),
    /// reading files in parallel straight into the output. Colour series get three frames (R, G, B).
    public func loadVolume(_ options: DICOMAssemblyOptions = .init()) throws -> (volume: Volume, geometry: DICOMGeometry) {
        let g = try geometry(options)
        var vol = Volume(dims: g.decodeDims, spacing: g.spacing, affine: g.affine, storedType: g.storedType, scaling: g.scaling)
        try vol.voxels.withUnsafeMutableBufferPointer { out in try decodeReal(g, into: out.baseAddress!) }
        if g.tiltCorrected { vol = correctTilt(vol, g) }
        if g.dims.count == 4 && g.channels == 1, let tr = header.double(.repetitionTime), tr > 0 { vol.timeStep = tr / 1000 }
        return (vol, g)
    }

    /// Resamples a tilted stack onto the orthogonal grid of `g` (bilinear within each slice;
    /// outside the slice → the volume's minimum), as dcm2niix's tilt correction does. Corrected
    /// pixel (I, J) of slice k is pixel (I + startI − k·di, J + startJ − k·dj) of image k.
    func correctTilt(_ v: Volume, _ g: DICOMGeometry) -> Volume {
        let (di, dj, startI, startJ) = g.tiltShift
        let nx = g.decodeDims[0], ny = g.decodeDims[1], nz = g.decodeDims[2]
        let mx = g.dims[0], my = g.dims[1]
        let frames = v.voxels.count / (nx * ny * nz)
        let fill = v.range?.min ?? 0
        var out = Volume(dims: g.dims, spacing: g.spacing, affine: g.affine, storedType: v.storedType, scaling: v.scaling)
        out.timeStep = v.timeStep
        v.voxels.withUnsafeBufferPointer { src in
            out.voxels.withUnsafeMutableBufferPointer { dst in
                parallelFor(nz * frames) { kk in
                    let k = kk % nz
                    let s0 = kk * nx * ny, d0 = kk * mx * my
                    @inline(__always) func at(_ a: Int, _ b: Int) -> Float? {
                        a >= 0 && a < nx && b >= 0 && b < ny ? src[s0 + b * nx + a] : nil
                    }
                    for jj in 0..<my {
                        for ii in 0..<mx {
                            let x = Double(ii + startI) - Double(k) * di, y = Double(jj + startJ) - Double(k) * dj
                            let x0 = Int(x.rounded(.down)), y0 = Int(y.rounded(.down))
                            let fx = Float(x - Double(x0)), fy = Float(y - Double(y0))
                            // Inside when the lower corner is; neighbours past the last row/column repeat it.
                            guard let v00 = at(x0, y0) else {
                                dst[d0 + jj * mx + ii] = fill
                                continue
                            }
                            let v10 = at(x0 + 1, y0) ?? v00, v01 = at(x0, y0 + 1) ?? v00, v11 = at(x0 + 1, y0 + 1) ?? v10
                            dst[d0 + jj * mx + ii] = (v00 * (1 - fx) + v10 * fx) * (1 - fy) + (v01 * (1 - fx) + v11 * fx) * fy
                        }
                    }
                }
            }
        }
        return out
    }
}

/// First error raised by parallel workers.
final class ErrorBox: @unchecked Sendable {
    private var stored: Error?
    private let lock = NSLock()
    var error: Error? {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
    func set(_ e: Error) {
        lock.lock()
        defer { lock.unlock() }
        if stored == nil { stored = e }
    }
}
