import Foundation
import MedVoxCore
import MedVoxNN
import MedVoxTensor
import MedVoxTransforms

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

/// Errors running a model on an input.
public enum InferenceError: MedVoxError {
    case wrongTask(model: String, expected: String)
    case channelMismatch(model: String, expected: Int, actual: Int)
    case tooLarge(what: String, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case let .wrongTask(model, expected): return "model '\(model)' is not a \(expected) model"
        case let .channelMismatch(model, expected, actual):
            return "model '\(model)' expects \(expected) input channel(s) (frames), the input has \(actual)"
        case let .tooLarge(what, bytes, limit):
            return "\(what) needs about \(bytes / 1_048_576) MB, more than the memory limit of \(limit / 1_048_576) MB (--max-memory)"
        }
    }
}

/// How the sliding window is laid out.
public struct SegmentationOptions: Sendable {
    public enum Window: Sendable, Equatable {
        /// The card's patch size (what the network was trained on), `overlap` between neighbours.
        case patch
        /// The largest windows the memory budget allows (fewer windows, less recomputation);
        /// neighbours overlap by `minimumOverlap` voxels, blended only there.
        case largest
        /// A given window size (i, j, k voxels; rounded up to what the network accepts).
        case fixed([Int])
    }
    public var window: Window = .patch
    /// Fraction of the window shared by neighbours (`.patch`, `.fixed`), in [0, 1).
    public var overlap: Double = 0.5
    /// Voxels shared by neighbouring windows with `.largest`.
    public var minimumOverlap: Int = 32
    /// Mirroring test-time augmentation: average the logits over every flip of the spatial axes.
    public var tta = false
    /// Apply the card's post-processing (or `PostprocessSpec.default`).
    public var postprocess = true
    /// Also return per-class probability maps on the input grid.
    public var probabilities = false
    /// Bytes the run may use (window activations + accumulators); default `Runtime.maxMemory`.
    public var memoryBudget: Int = Runtime.maxMemory
    /// Finalise (softmax → argmax) slab by slab as windows complete (true), or accumulate
    /// full-volume logits first (false: the naive reference path, for tests).
    public var streaming = true

    public init() {}
}

/// What `Segmenter.segment` returns.
public struct SegmentationResult: Sendable {
    /// Label values (the card's), uint8 stored type, on the input's exact grid.
    public var mask: Volume
    /// Per-class probabilities (one frame per class, card order) on the input grid, if asked for.
    public var probabilities: Volume?
    /// Input/model mismatches worth telling the user (modality, spacing).
    public var warnings: [String]
    /// The window size used (i, j, k voxels on the preprocessed grid) and how many windows ran.
    public var window: [Int]
    public var windowCount: Int
    /// The preprocessed grid's size (i, j, k).
    public var preprocessedDims: [Int]
    /// Planned peak bytes of the network forward pass and of the accumulators.
    public var plannedForwardBytes: Int
    public var plannedAccumulatorBytes: Int
    /// Wall-clock seconds per stage: "preprocess", "inference", "restore", "postprocess".
    public var seconds: [String: Double]
}

/// Runs a segmentation model on a volume: preprocess as the card says, sliding-window inference
/// with Gaussian blending (nnU-Net's scheme, Isensee et al. 2021), optional mirroring TTA,
/// softmax and argmax slab by slab, restore onto the input grid, post-process.
///
/// Memory is bounded: logits are accumulated only over the slab of planes that the current row
/// of windows covers; planes that no later window touches are finalised (softmax → argmax) and
/// their accumulators reused, so the full-resolution float logits of all classes never exist at
/// once (unless probability maps are asked for, which are then the output).
///
/// ```swift
/// let model = try LoadedModel.load("brain-tissue")
/// let result = try Segmenter(model: model).segment(try ImageFile.read("t1.nii.gz"))
/// try ImageFile.write(result.mask, to: "mask.nii.gz", as: .uint8)
/// ```
public final class Segmenter {
    public let model: LoadedModel
    public var options: SegmentationOptions
    let unet: UNet

    public init(model: LoadedModel, options: SegmentationOptions = SegmentationOptions()) throws {
        guard model.card.task == .segmentation, let unet = model.network as? UNet else {
            throw InferenceError.wrongTask(model: model.card.name, expected: "segmentation")
        }
        guard model.card.labels.allSatisfy({ (0...255).contains($0.value) }) else {
            throw ModelError.invalidCard(path: model.cardPath, reason: "segmentation label values must be 0...255 (uint8 masks)")
        }
        self.model = model
        self.options = options
        self.unet = unet
        model.network.setTraining(false)
    }

    var rank: Int { model.card.architecture.spatialRank }
    var classes: Int { model.card.architecture.classes }

    /// Sizes a window must be a multiple of, per axis (i, j, k); a 2D model runs slice by slice.
    var multiples: [Int] {
        let m = unet.sizeMultiple
        return rank == 3 ? [m, m, m] : [m, m, 1]
    }

    /// Estimated peak bytes of one forward pass on a window of `w` (i, j, k) voxels: per level, the
    /// live feature maps of a decoder block (skip, up-sampled, the first convolution's padded copy
    /// of both: ≈ 4 maps of that level's width) with a margin for the heap's fragmentation (6.5
    /// maps), plus input, logits and the TTA sum. Measured (VmHWM) on the MNI template with the
    /// 16–256 U-Net, 2 windows of 208×240×112: 2.80 GB with the CLI's heap reuse against 3.4 GB
    /// estimated for forward, accumulators and images together.
    public func forwardBytes(window w: [Int]) -> Int {
        let voxels = Double(w.reduce(1, *))
        let shrink = Double(rank == 3 ? 8 : 4)
        var floats = voxels * Double(model.card.architecture.inChannels * 2 + classes * 3)
        var v = voxels
        for f in model.card.architecture.features ?? [] {
            floats += 6.5 * Double(f) * v
            v /= shrink
        }
        return Int(floats * 4)
    }

    /// Bytes of the logit/weight accumulators for a slab of `depth` planes of `dims` (i, j).
    func accumulatorBytes(dims: [Int], depth: Int) -> Int {
        (classes + 1) * dims[0] * dims[1] * depth * 4
    }

    /// The largest window `.largest` picks, in voxels, whatever the budget. Beyond it a pass costs
    /// more per voxel than the overlap it saves: on the MNI template (16–256 U-Net, 2 threads) one
    /// 208×240×192 window (9.6 M voxels, 4.7 GB) took 10.5–12.9 s against 8.4–8.5 s for two of
    /// 208×240×112 (5.6 M voxels each, 14% of them computed twice, 2.8 GB).
    public static let largestWindowVoxels = 6 << 20

    /// Chooses the window size for a preprocessed grid of `dims` (i, j, k).
    public func chooseWindow(dims: [Int]) throws -> [Int] {
        let m = multiples
        func roundUp(_ x: Int, _ m: Int) -> Int { max(m, (x + m - 1) / m * m) }
        let full = (0..<3).map { roundUp(dims[$0], m[$0]) }
        var w: [Int]
        switch options.window {
        case .largest:
            w = full
        case .patch:
            var p = model.card.input.patchSize
            if p.count == 2 { p.append(1) }
            if rank == 2 { p[2] = 1 }
            w = (0..<3).map { min(roundUp(p[$0], m[$0]), full[$0]) }
        case let .fixed(f):
            w = (0..<3).map { min(roundUp(f[$0], m[$0]), full[$0]) }
        }
        let fixedBytes = dims.reduce(1, *) * 4 * 2  // the preprocessed image and the label map
        func total(_ w: [Int]) -> Int {
            let padded = (0..<3).map { max(dims[$0], w[$0]) }
            let slab = options.streaming ? w[2] : padded[2]
            return forwardBytes(window: w) + accumulatorBytes(dims: padded, depth: slab) + fixedBytes
        }
        if options.window == .largest {
            // Search every window shape (multiples of what the network accepts) that fits the
            // budget for the least computed voxels (windows × window size); ties: fewer windows.
            let sizes = (0..<3).map { a in Array(stride(from: m[a], through: full[a], by: m[a])) }
            var best: (cost: Int, count: Int, w: [Int])?
            for sk in sizes[2] {
                for sj in sizes[1] {
                    for si in sizes[0] {
                        let c = [si, sj, sk]
                        guard total(c) <= options.memoryBudget, c.reduce(1, *) <= Self.largestWindowVoxels || c == m else { continue }
                        let counts = (0..<3).map { windowStarts(size: max(dims[$0], c[$0]), window: c[$0]).count }
                        let n = counts.reduce(1, *)
                        let cost = n * c.reduce(1, *)
                        if best == nil || cost < best!.cost || (cost == best!.cost && n < best!.count) { best = (cost, n, c) }
                    }
                }
            }
            guard let b = best else {
                throw InferenceError.tooLarge(what: "the smallest window \(m)", bytes: total(m), limit: options.memoryBudget)
            }
            return b.w
        }
        // Shrink the largest axis until the forward pass and the accumulators fit the budget.
        while total(w) > options.memoryBudget {
            let axis = (0..<3).filter { w[$0] > m[$0] }.max { w[$0] < w[$1] }
            guard let a = axis else {
                throw InferenceError.tooLarge(what: "the smallest window \(w)", bytes: total(w), limit: options.memoryBudget)
            }
            let smaller = roundUp(w[a] * 3 / 4, m[a])
            w[a] = smaller < w[a] ? smaller : w[a] - m[a]
        }
        return w
    }

    /// Window origins along one axis of `size` voxels (padded to at least `window`): `overlap`
    /// for patch and fixed windows, `minimumOverlap` voxels for the largest windows.
    func windowStarts(size: Int, window: Int) -> [Int] {
        let overlap = options.window == .largest ? min(0.9, Double(options.minimumOverlap) / Double(window)) : options.overlap
        return SlidingWindow.starts(size: size, patch: window, overlap: overlap)
    }

    /// Warnings when the input is far from what the model expects.
    public func warnings(for volume: Volume, modality: String?) -> [String] {
        Self.inputWarnings(card: model.card, volume: volume, modality: modality)
    }

    /// Warnings when `volume` (of `modality`, when known) is far from what `card` expects: another
    /// modality, or a voxel size more than 2× off the model's on some axis.
    public static func inputWarnings(card: ModelCard, volume: Volume, modality: String?) -> [String] {
        var out: [String] = []
        let input = card.input
        if let m = modality?.trimmingCharacters(in: .whitespaces), !m.isEmpty,
            m.uppercased() != input.modality.uppercased()
        {
            out.append("the input's modality is \(m), but model '\(card.name)' expects \(input.modality)")
        }
        let s = volume.spacing.prefix(3).map { $0 }
        let ratios = (0..<min(3, s.count)).map { s[$0] / input.spacing[$0] }
        if ratios.contains(where: { $0 > 2 || $0 < 0.5 }) {
            func fmt(_ v: [Double]) -> String { v.map { String(format: "%.2f", $0) }.joined(separator: "×") }
            out.append("the input's voxel size \(fmt(s)) mm is far from the model's \(fmt(input.spacing)) mm (more than 2× on an axis); results may be poor")
        }
        return out
    }

    /// Segments `volume` (any grid; `modality` from the DICOM header when known).
    public func segment(_ volume: Volume, modality: String? = nil) throws -> SegmentationResult {
        let inChannels = model.card.architecture.inChannels
        guard volume.frames == inChannels else {
            throw InferenceError.channelMismatch(model: model.card.name, expected: inChannels, actual: volume.frames)
        }
        var seconds: [String: Double] = [:]
        var t0 = Date()
        let pre = try model.card.preprocessing.apply(to: volume)
        seconds["preprocess"] = Date().timeIntervalSince(t0)

        t0 = Date()
        let dims = pre.image.shape3
        let window = try chooseWindow(dims: dims)
        let run = try slidingWindow(image: pre.image.voxels, dims: dims, window: window)
        seconds["inference"] = Date().timeIntervalSince(t0)

        t0 = Date()
        let labelValues = model.card.labels.map { Float($0.value) }
        let preMask = pre.image.withVoxels(run.labels.map { labelValues[Int($0)] }, storedType: .uint8)
        var mask = try pre.restore(preMask, interpolation: .nearest)
        var probabilities: Volume?
        if let probs = run.probabilities {
            let n = dims.reduce(1, *)
            var all: [Float] = []
            all.reserveCapacity(volume.frameCount * classes)
            for c in 0..<classes {
                let p = pre.image.withVoxels(Array(probs[(c * n)..<((c + 1) * n)]))
                all += try pre.restore(p, interpolation: .linear).voxels
            }
            probabilities = Volume(dims: volume.shape3 + [classes], spacing: volume.spacing, affine: volume.affine, voxels: all)
        }
        seconds["restore"] = Date().timeIntervalSince(t0)

        t0 = Date()
        if options.postprocess {
            let spec = model.card.postprocessing ?? .default
            mask.voxels = postprocessLabelMap(mask.voxels, dims: mask.shape3, spec: spec)
        }
        seconds["postprocess"] = Date().timeIntervalSince(t0)
        mask = volume.frame(0).withVoxels(mask.voxels, storedType: .uint8)

        return SegmentationResult(
            mask: mask, probabilities: probabilities, warnings: warnings(for: volume, modality: modality),
            window: window, windowCount: run.windowCount, preprocessedDims: dims,
            plannedForwardBytes: forwardBytes(window: window),
            plannedAccumulatorBytes: run.accumulatorBytes, seconds: seconds)
    }

    /// The output of the sliding window on the preprocessed grid.
    public struct WindowRun {
        /// Class index (0..<classes) per voxel, i fastest.
        public var labels: [UInt8]
        /// Softmax probabilities, class-major (`classes` blocks of the grid), when asked for.
        public var probabilities: [Float]?
        public var windowCount: Int
        public var accumulatorBytes: Int
    }

    /// Sliding-window inference over a preprocessed image (`inChannels` frames of `dims`, i
    /// fastest) with windows of `window` voxels: Gaussian-weighted logit averaging, mirroring TTA
    /// when asked, and slab-by-slab finalisation (softmax, argmax) when `options.streaming`.
    public func slidingWindow(image: [Float], dims: [Int], window w: [Int]) throws -> WindowRun {
        let cin = model.card.architecture.inChannels
        let k = classes
        let q = (0..<3).map { max(dims[$0], w[$0]) }  // padded grid
        let (qx, qy, qz) = (q[0], q[1], q[2])
        let (px, py, pz) = (dims[0], dims[1], dims[2])
        let starts = (0..<3).map { windowStarts(size: q[$0], window: w[$0]) }
        let gauss = SlidingWindow.gaussianWeights(patch: w)
        let planeQ = qx * qy
        let planeP = px * py
        let depth = options.streaming ? w[2] : qz  // a slab holds one row of windows
        var acc = [Float](repeating: 0, count: k * planeQ * depth)
        var wsum = [Float](repeating: 0, count: planeQ * depth)
        var base = 0  // first plane the accumulators hold
        var labels = [UInt8](repeating: 0, count: px * py * pz)
        let probs: UnsafeMutableBufferPointer<Float>? =
            options.probabilities ? .allocate(capacity: k * px * py * pz) : nil
        probs?.initialize(repeating: 0)
        defer { probs?.deallocate() }
        let windowCount = starts[0].count * starts[1].count * starts[2].count
        let progress = Progress("segment", total: windowCount)
        defer { progress.finish() }

        // Finalises planes [from, to) (absolute z) held in the accumulators.
        func finalise(_ from: Int, _ to: Int) {
            let hi = min(to, pz)
            guard from < hi else { return }
            acc.withUnsafeBufferPointer { a in
                wsum.withUnsafeBufferPointer { ws in
                    labels.withUnsafeMutableBufferPointer { lab in
                        nonisolated(unsafe) let a = a, ws = ws, lab = lab, pp = probs
                        parallelFor(hi - from) { dz in
                            let z = from + dz
                            let zl = z - base
                            var logit = [Float](repeating: 0, count: k)
                            for y in 0..<py {
                                for x in 0..<px {
                                    let o = zl * planeQ + y * qx + x
                                    let inv = 1 / ws[o]
                                    var best = 0
                                    for c in 0..<k {
                                        logit[c] = a[c * planeQ * depth + o] * inv
                                        if logit[c] > logit[best] { best = c }
                                    }
                                    let out = z * planeP + y * px + x
                                    lab[out] = UInt8(best)
                                    if let pp {
                                        let mx = logit[best]
                                        var s: Float = 0
                                        for c in 0..<k {
                                            logit[c] = exp(logit[c] - mx)
                                            s += logit[c]
                                        }
                                        for c in 0..<k { pp[c * planeP * pz + out] = logit[c] / s }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        let tile = [1, cin, w[2], w[1], w[0]]
        let tileVoxels = w[0] * w[1] * w[2]
        for z0 in starts[2] {
            if options.streaming && z0 > base {
                // Planes before z0 are complete: finalise them and slide the slab.
                finalise(base, z0)
                let shift = z0 - base
                for c in 0..<k {
                    let off = c * planeQ * depth
                    for zl in 0..<depth {
                        let dst = off + zl * planeQ
                        if zl + shift < depth {
                            let src = off + (zl + shift) * planeQ
                            for o in 0..<planeQ { acc[dst + o] = acc[src + o] }
                        } else {
                            for o in 0..<planeQ { acc[dst + o] = 0 }
                        }
                    }
                }
                for zl in 0..<depth {
                    let dst = zl * planeQ
                    if zl + shift < depth {
                        let src = (zl + shift) * planeQ
                        for o in 0..<planeQ { wsum[dst + o] = wsum[src + o] }
                    } else {
                        for o in 0..<planeQ { wsum[dst + o] = 0 }
                    }
                }
                base = z0
            }
            for y0 in starts[1] {
                for x0 in starts[0] {
                    // Gather the window (zeros where it runs past the image: padding).
                    var input = [Float](repeating: 0, count: cin * tileVoxels)
                    for c in 0..<cin {
                        for dz in 0..<w[2] where z0 + dz < pz {
                            for dy in 0..<w[1] where y0 + dy < py {
                                let src = c * px * py * pz + (z0 + dz) * planeP + (y0 + dy) * px + x0
                                let dst = c * tileVoxels + (dz * w[1] + dy) * w[0]
                                let run = min(w[0], px - x0)
                                if run > 0 { for dx in 0..<run { input[dst + dx] = image[src + dx] } }
                            }
                        }
                    }
                    let logits = forward(Tensor(shape: tile, storage: input))
                    // Accumulate weighted logits into the slab.
                    let zl0 = z0 - base
                    logits.storage.withUnsafeBufferPointer { lg in
                        acc.withUnsafeMutableBufferPointer { a in
                            nonisolated(unsafe) let lg = lg, a = a
                            parallelFor(k * w[2]) { job in
                                let c = job / w[2], dz = job % w[2]
                                for dy in 0..<w[1] {
                                    let g = (dz * w[1] + dy) * w[0]
                                    let src = c * tileVoxels + g
                                    let dst = c * planeQ * depth + (zl0 + dz) * planeQ + (y0 + dy) * qx + x0
                                    for dx in 0..<w[0] { a[dst + dx] += gauss[g + dx] * lg[src + dx] }
                                }
                            }
                        }
                    }
                    for dz in 0..<w[2] {
                        for dy in 0..<w[1] {
                            let g = (dz * w[1] + dy) * w[0]
                            let dst = (zl0 + dz) * planeQ + (y0 + dy) * qx + x0
                            for dx in 0..<w[0] { wsum[dst + dx] += gauss[g + dx] }
                        }
                    }
                    progress.advance()
                }
            }
        }
        finalise(base, qz)
        return WindowRun(labels: labels, probabilities: probs.map { Array($0) }, windowCount: windowCount, accumulatorBytes: (acc.count + wsum.count) * 4)
    }

    /// Logits of one window `[1, Cin, D, H, W]` → `[1, K, D, H, W]`, averaged over mirrored copies
    /// when TTA is on; no autograd graph is recorded. A 2D model sees `[1, Cin, H, W]` (D = 1).
    public func forward(_ x: Tensor) -> Tensor {
        let s = x.shape
        func net(_ t: Tensor) -> Tensor {
            if rank == 2 {
                let y = withoutGradients { unet(Variable(t.reshaped([s[0], s[1], s[3], s[4]]))).value }
                return y.reshaped([s[0], classes, 1, s[3], s[4]])
            }
            return withoutGradients { unet(Variable(t)).value }
        }
        guard options.tta else { return net(x) }
        // Spatial axes of the NCDHW tensor that are mirrored: W, H (and D for 3D models).
        let axes = rank == 3 ? [4, 3, 2] : [4, 3]
        var sum: Tensor?
        let combos = 1 << axes.count
        for mask in 0..<combos {
            let flipAxes = axes.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
            let y = flipped(net(flipped(x, axes: flipAxes)), axes: flipAxes)
            if var acc = sum {
                acc.storage.withUnsafeMutableBufferPointer { a in
                    y.storage.withUnsafeBufferPointer { b in for i in 0..<a.count { a[i] += b[i] } }
                }
                sum = acc
            } else {
                sum = y
            }
        }
        var out = sum!
        let scale = 1 / Float(combos)
        out.storage.withUnsafeMutableBufferPointer { a in for i in 0..<a.count { a[i] *= scale } }
        return out
    }
}

/// `x` (NCDHW) mirrored along the given tensor axes (2 = D, 3 = H, 4 = W).
public func flipped(_ x: Tensor, axes: [Int]) -> Tensor {
    guard !axes.isEmpty else { return x }
    let s = x.shape
    precondition(s.count == 5)
    let (d, h, w) = (s[2], s[3], s[4])
    let fd = axes.contains(2), fh = axes.contains(3), fw = axes.contains(4)
    var out = [Float](repeating: 0, count: x.count)
    x.storage.withUnsafeBufferPointer { src in
        for nc in 0..<(s[0] * s[1]) {
            for z in 0..<d {
                let zs = fd ? d - 1 - z : z
                for y in 0..<h {
                    let ys = fh ? h - 1 - y : y
                    let so = ((nc * d + zs) * h + ys) * w
                    let doff = ((nc * d + z) * h + y) * w
                    if fw {
                        for i in 0..<w { out[doff + i] = src[so + w - 1 - i] }
                    } else {
                        for i in 0..<w { out[doff + i] = src[so + i] }
                    }
                }
            }
        }
    }
    return Tensor(shape: s, storage: out)
}

/// Applies a card's post-processing to a label map on a 3D grid (i fastest).
public func postprocessLabelMap(_ labelMap: [Float], dims: [Int], spec: ModelCard.PostprocessSpec) -> [Float] {
    var out = labelMap
    if spec.largestForeground == true {
        let (components, sizes) = connectedComponents(out.map { $0 > 0 }, dims: dims)
        if sizes.count > 2 {
            let largest = Int32(sizes.indices.dropFirst().max { sizes[$0] < sizes[$1] }!)
            for i in 0..<out.count where components[i] != 0 && components[i] != largest { out[i] = 0 }
        }
    }
    for label in spec.largestComponent ?? [] {
        let l = Float(label)
        let (components, sizes) = connectedComponents(out.map { $0 == l }, dims: dims)
        guard sizes.count > 2 else { continue }
        let largest = Int32(sizes.indices.dropFirst().max { sizes[$0] < sizes[$1] }!)
        for i in 0..<out.count where components[i] != 0 && components[i] != largest { out[i] = 0 }
    }
    if let fill = spec.fillHoles, !fill.isEmpty {
        // fillHolesPerLabel treats every label; keep only the fills of the chosen labels.
        let filled = fillHolesPerLabel(out, dims: dims)
        let chosen = Set(fill.map(Float.init))
        for i in 0..<out.count where out[i] == 0 && chosen.contains(filled[i]) { out[i] = filled[i] }
    }
    return out
}
