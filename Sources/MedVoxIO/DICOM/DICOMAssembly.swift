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
    public func geometry(_ options: DICOMAssemblyOptions = .init()) throws -> DICOMGeometry {
        guard let first = slices.first else { throw DICOMError.noImages(path: label, reason: "every image is a localizer or was excluded") }
        let path = files[first.fileIndex].path
        let info = try files[first.fileIndex].pixelInfo()
        var warnings: [String] = []

        // Orientation: orthonormalise slightly-off cosines instead of refusing them.
        var r = [1.0, 0, 0], c = [0.0, 1, 0]
        if let o = first.orientation {
            r = Array(o[0..<3])
            c = Array(o[3..<6])
            let nr = norm(r), nc = norm(c)
            guard nr > 0.5, nc > 0.5, abs(dot(r, c)) / (nr * nc) < 0.5 else {
                throw DICOMError.invalidAttribute(path: path, keyword: "ImageOrientationPatient",
                                                  value: o.map { String($0) }.joined(separator: "\\"), reason: "not two independent directions")
            }
            if abs(nr - 1) > 1e-4 || abs(nc - 1) > 1e-4 || abs(dot(r, c)) > 1e-4 {
                warnings.append(String(format: "%@: direction cosines not orthonormal (|row|=%.5f |col|=%.5f row·col=%.5f); orthonormalised", path, nr, nc, dot(r, c)))
            }
            // Symmetric Gram–Schmidt: split the non-orthogonality evenly between both vectors.
            r = r.map { $0 / nr }
            c = c.map { $0 / nc }
            for _ in 0..<8 where abs(dot(r, c)) > 1e-15 {
                let d = dot(r, c)
                let r2 = zip(r, c).map { $0 - d / 2 * $1 }, c2 = zip(c, r).map { $0 - d / 2 * $1 }
                r = r2.map { $0 / norm(r2) }
                c = c2.map { $0 / norm(c2) }
            }
        } else {
            warnings.append("\(path): no ImageOrientationPatient; assuming axial LPS")
        }
        let n = cross(r, c)
        let ps = first.pixelSpacing ?? {
            warnings.append("\(path): no PixelSpacing; assuming 1 mm")
            return [1, 1]
        }()

        // Sort along the normal; group equal positions (4D: time points / repeats).
        let positioned = slices.allSatisfy { $0.position != nil }
        if !positioned { warnings.append("\(path): slices without ImagePositionPatient; ordered by InstanceNumber") }
        func tieKey(_ s: DICOMSlice) -> [Double] {
            [Double(s.temporalPosition ?? 0), Double(s.acquisitionNumber ?? 0), Double(s.instanceNumber ?? 0), Double(s.frame)]
        }
        // A file whose SOPInstanceUID another file already has is a copy: drop all its frames.
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
        let unique = slices.filter { !copies.contains($0.fileIndex) }
        let dist: (DICOMSlice) -> Double = { s in positioned ? dot(s.position!, n) : Double(s.instanceNumber ?? 0) }
        let sorted = unique.sorted { a, b in
            let da = dist(a), db = dist(b)
            if abs(da - db) > 1e-3 { return da < db }
            return tieKey(a).lexicographicallyPrecedes(tieKey(b))
        }
        var stacks: [[DICOMSlice]] = []  // per position
        for s in sorted {
            if let last = stacks.last?.first, abs(dist(last) - dist(s)) <= 1e-2 {
                stacks[stacks.count - 1].append(s)
            } else {
                stacks.append([s])
            }
        }
        let counts = Set(stacks.map(\.count))
        var nt = 1
        if counts.count == 1 {
            nt = counts.first!
        } else {
            let dup = stacks.filter { $0.count > 1 }.map { String(format: "%.3f", dist($0[0])) }
            warnings.append("\(path): \(dup.count) slice position(s) occur more than once (\(dup.prefix(5).joined(separator: ", ")) mm along the normal); keeping the first image at each")
            stacks = stacks.map { [$0[0]] }
        }
        let nz = stacks.count
        if nt > 1 && info.channels > 1 {
            throw DICOMError.inconsistentSeries(path: path, reason: "colour images with several images per position are not supported")
        }

        // Spacing and tilt from the positions.
        var step = n.map { $0 * (first.sliceThickness ?? 1) }
        var tilt = 0.0
        if nz > 1 && positioned {
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
            step = zip(pl, p0).map { ($0 - $1) / Double(nz - 1) }
            if irregular {
                let detail = "usual step \(String(format: "%.3f", med)) mm; " + gaps.prefix(6).joined(separator: "; ") + (gaps.count > 6 ? "; …" : "")
                guard options.allowIrregular else { throw DICOMError.irregularSpacing(path: path, detail: detail) }
                warnings.append("\(path): irregular slice spacing (\(detail)); assembled with the mean step \(String(format: "%.4f", dot(step, n))) mm")
            }
            let along = dot(step, n)
            let inPlane = zip(step, n).map { $0 - along * $1 }
            tilt = atan2(norm(inPlane), abs(along)) * 180 / .pi
            if tilt > 0.01 {
                warnings.append(String(format: "%@: gantry tilt of %.2f° detected%@", path, tilt,
                                       options.correctTilt ? "; resampled onto an orthogonal grid" : "; kept as a sheared affine (use --correct-tilt to resample)"))
            }
        } else if let sbs = files[first.fileIndex].dataset.double(.spacingBetweenSlices), sbs > 0 {
            step = n.map { $0 * sbs }
        }

        // Affine in LPS, then RAS (negate x and y rows).
        let p0 = stacks[0][0].position ?? [0, 0, 0]
        var cols: [[Double]] = [r.map { $0 * ps[1] }, c.map { $0 * ps[0] }, step]
        let correct = options.correctTilt && tilt > 0.01
        if correct { cols[2] = n.map { $0 * dot(step, n) } }
        var a = Affine.identity
        for row in 0..<3 {
            let sign: Double = row < 2 ? -1 : 1
            for col in 0..<3 { a[row, col] = sign * cols[col][row] }
            a[row, 3] = sign * p0[row]
        }
        var dims = [info.columns, info.rows, nz]
        if nt > 1 { dims.append(nt) }
        if info.channels > 1 { dims.append(info.channels) }
        let total = dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
        guard total > 0, total <= Runtime.maxMemory / 4 else {
            throw DICOMError.tooLarge(path: path, bytes: total &* 4, limit: Runtime.maxMemory)
        }
        let bySlice = (0..<nt).map { t in stacks.map { $0[t] } }
        let scalings = Set(unique.map { "\($0.scaling.slope) \($0.scaling.intercept)" })
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
        if scalings.count > 1 {
            stored = .float32
            scaling = .identity
        }
        if info.channels > 1 { stored = .uint8 }
        return DICOMGeometry(
            dims: dims, affine: a, spacing: [ps[1], ps[0], correct ? abs(dot(step, n)) : norm(step)],
            slices: bySlice, channels: info.channels, tiltDegrees: tilt, tiltCorrected: correct,
            warnings: warnings, storedType: stored, scaling: scaling)
    }

    /// Decodes the series into a `Volume` (Float32 real values: modality LUT applied per slice),
    /// reading files in parallel straight into the output. Colour series get three frames (R, G, B).
    public func loadVolume(_ options: DICOMAssemblyOptions = .init()) throws -> (volume: Volume, geometry: DICOMGeometry) {
        let g = try geometry(options)
        var vol = Volume(dims: g.dims, spacing: g.spacing, affine: g.affine, storedType: g.storedType, scaling: g.scaling)
        try vol.voxels.withUnsafeMutableBufferPointer { out in try decodeReal(g, into: out.baseAddress!) }
        if g.tiltCorrected { vol = correctTilt(vol, g) }
        if g.dims.count == 4 && g.channels == 1, let tr = header.double(.repetitionTime), tr > 0 { vol.timeStep = tr / 1000 }
        return (vol, g)
    }

    /// Shifts each slice in-plane so a tilted stack becomes orthogonal (bilinear; outside → the
    /// volume's minimum), as dcm2niix's tilt correction does.
    func correctTilt(_ v: Volume, _ g: DICOMGeometry) -> Volume {
        guard let s0 = g.slices[0].first, let sl = g.slices[0].last, let p0 = s0.position, let pl = sl.position, g.dims[2] > 1 else { return v }
        let o = s0.orientation ?? [1, 0, 0, 0, 1, 0]
        let r = Array(o[0..<3]), c = Array(o[3..<6])
        let n = cross(r, c)
        let nz = g.dims[2]
        let step = zip(pl, p0).map { ($0 - $1) / Double(nz - 1) }
        let along = dot(step, n)
        let e = zip(step, n).map { $0 - along * $1 }
        let di = dot(e, r) / g.spacing[0], dj = dot(e, c) / g.spacing[1]
        let nx = g.dims[0], ny = g.dims[1]
        let fill = v.range?.min ?? 0
        var out = v
        let frames = v.voxels.count / (nx * ny * nz)
        v.voxels.withUnsafeBufferPointer { src in
            out.voxels.withUnsafeMutableBufferPointer { dst in
                parallelFor(nz * frames) { kk in
                    let k = kk % nz
                    let off = kk * nx * ny
                    let si = Double(k) * di, sj = Double(k) * dj
                    for j in 0..<ny {
                        for i in 0..<nx {
                            let x = Double(i) + si, y = Double(j) + sj
                            let x0 = Int(x.rounded(.down)), y0 = Int(y.rounded(.down))
                            let fx = Float(x - Double(x0)), fy = Float(y - Double(y0))
                            func at(_ a: Int, _ b: Int) -> Float? { a >= 0 && a < nx && b >= 0 && b < ny ? src[off + b * nx + a] : nil }
                            guard let v00 = at(x0, y0) ?? (fx == 0 && fy == 0 ? nil : nil) else {
                                dst[off + j * nx + i] = fill
                                continue
                            }
                            let v10 = at(x0 + 1, y0) ?? v00, v01 = at(x0, y0 + 1) ?? v00, v11 = at(x0 + 1, y0 + 1) ?? v10
                            dst[off + j * nx + i] = (v00 * (1 - fx) + v10 * fx) * (1 - fy) + (v01 * (1 - fx) + v11 * fx) * fy
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
