import MedVoxCore
import MedVoxTensor

/// N-d convolution layer (2D or 3D by the length of `kernel`), weights `[Cout, Cin, k…]` and
/// bias `[Cout]` as PyTorch's `Conv2d`/`Conv3d`. The packed-weight plan is kept between calls and
/// rebuilt when the input size or the weights change.
public final class ConvNd: Module {
    public let weight: Variable
    public let bias: Variable?
    public let inChannels: Int, outChannels: Int
    public let kernel: [Int], stride: [Int], padding: [Int], dilation: [Int]
    /// Applied to the output in the same pass as the bias (inference only; when recording
    /// gradients it is applied as a separate operation).
    public var activation: FusedActivation = .none
    public var training = true
    private var plan = PackedPlan()

    public init(_ inChannels: Int, _ outChannels: Int, kernel: [Int], stride: [Int]? = nil, padding: [Int]? = nil,
                dilation: [Int]? = nil, bias: Bool = true, rng: inout SeededGenerator)
    {
        precondition(kernel.count == 2 || kernel.count == 3, "ConvNd takes a 2D or 3D kernel, not \(kernel)")
        let r = kernel.count
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride ?? Array(repeating: 1, count: r)
        self.padding = padding ?? Array(repeating: 0, count: r)
        self.dilation = dilation ?? Array(repeating: 1, count: r)
        let fanIn = inChannels * kernel.reduce(1, *)
        weight = Variable(heNormal([outChannels, inChannels] + kernel, fanIn: fanIn, rng: &rng), requiresGrad: true)
        self.bias = bias ? Variable(Tensor(shape: [outChannels]), requiresGrad: true) : nil
    }

    public var localParameters: [(String, Variable)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }

    /// The convolution geometry for an input of shape `[N, Cin, spatial…]`; throws
    /// `ConvError.invalidGeometry` when the input is too small or of the wrong rank.
    public func geometry(for shape: [Int]) throws -> ConvGeometry {
        guard shape.count == kernel.count + 2, shape[1] == inChannels else {
            throw ConvError.invalidGeometry(reason: "input \(shape) for a convolution with \(inChannels) channels and kernel \(kernel)")
        }
        return try ConvGeometry(batch: shape[0], inChannels: inChannels, outChannels: outChannels, inputSize: Array(shape[2...]),
                                kernel: kernel, stride: stride, padding: padding, dilation: dilation)
    }

    /// Floats of shared scratch the forward pass takes on an input of `shape` (the plan is
    /// prepared for it).
    public func forwardScratchCount(inputShape shape: [Int]) -> Int {
        let g: ConvGeometry
        do { g = try geometry(for: shape) } catch { preconditionFailure("\(error)") }
        return plan.prepared(g, weight: weight).forwardScratchCount
    }

    /// Inference (no graph) on the channel concatenation of `parts`, releasing them (`parts`
    /// becomes nil) once the kernel has read them: see `convConsuming`. `pending`, only
    /// where `readsPendingNormalization(inputShape:)`: a normalisation of the input not yet applied.
    public func inference(consuming parts: inout [Tensor]?, pending: PendingNormalization? = nil) -> Tensor {
        let p = plan(forParts: parts!)  // (its own statement: no copy of the parts outlives it)
        return convConsuming(&parts, pending: pending, bias: bias?.value, plan: p, activation: activation)
    }

    /// `inference(consuming:pending:)` that also returns each output channel's sum and sum of
    /// squares (`[N][Cout][2]`) where the convolution computes them as it writes; see
    /// `convConsumingWithStatistics`.
    public func inferenceWithStatistics(consuming parts: inout [Tensor]?, pending: PendingNormalization? = nil) -> (Tensor, [Double]?) {
        let p = plan(forParts: parts!)
        return convConsumingWithStatistics(&parts, pending: pending, bias: bias?.value, plan: p, activation: activation)
    }

    /// Whether `inference(consuming:pending:)` applies a pending normalisation of an input of
    /// `shape` as it reads it (Winograd passes).
    public func readsPendingNormalization(inputShape shape: [Int]) -> Bool {
        let g: ConvGeometry
        do { g = try geometry(for: shape) } catch { preconditionFailure("\(error)") }
        return plan.prepared(g, weight: weight).readsPendingNormalization
    }

    /// The plan for the channel concatenation of `parts`.
    private func plan(forParts ps: [Tensor]) -> ConvPlan {
        let shape = [ps[0].shape[0], ps.reduce(0) { $0 + $1.shape[1] }] + Array(ps[0].shape.dropFirst(2))
        let g: ConvGeometry
        do { g = try geometry(for: shape) } catch { preconditionFailure("\(error)") }
        return plan.prepared(g, weight: weight)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        let g: ConvGeometry
        do { g = try geometry(for: x.shape) } catch { preconditionFailure("\(error)") }
        let recording = GradientRecording.isEnabled && (x.requiresGrad || weight.requiresGrad)
        let y = conv(x, weight: weight, bias: bias, plan: plan.prepared(g, weight: weight), activation: recording ? .none : activation)
        guard recording else { return y }
        switch activation {
        case .none: return y
        case .relu: return relu(y)
        case let .leakyReLU(s): return leakyReLU(y, slope: s)
        }
    }
}

/// A 2D convolution (`kernel`×`kernel`).
public func Conv2d(_ cin: Int, _ cout: Int, kernel: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
                   bias: Bool = true, rng: inout SeededGenerator) -> ConvNd {
    ConvNd(cin, cout, kernel: [kernel, kernel], stride: [stride, stride], padding: [padding, padding],
           dilation: [dilation, dilation], bias: bias, rng: &rng)
}

/// A 3D convolution (`kernel`³).
public func Conv3d(_ cin: Int, _ cout: Int, kernel: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
                   bias: Bool = true, rng: inout SeededGenerator) -> ConvNd {
    ConvNd(cin, cout, kernel: [Int](repeating: kernel, count: 3), stride: [Int](repeating: stride, count: 3),
           padding: [Int](repeating: padding, count: 3), dilation: [Int](repeating: dilation, count: 3), bias: bias, rng: &rng)
}

/// N-d transposed convolution (PyTorch `ConvTranspose2d/3d`): weights `[Cin, Cout, k…]`, output
/// size (in − 1)·stride − 2·padding + kernel + outputPadding per axis. U-Nets use kernel 2,
/// stride 2 to double the resolution.
public final class ConvTransposeNd: Module {
    public let weight: Variable
    public let bias: Variable?
    public let inChannels: Int, outChannels: Int
    public let kernel: [Int], stride: [Int], padding: [Int], outputPadding: [Int]
    public var training = true
    private var plan = PackedPlan()

    public init(_ inChannels: Int, _ outChannels: Int, kernel: [Int], stride: [Int], padding: [Int]? = nil,
                outputPadding: [Int]? = nil, bias: Bool = true, rng: inout SeededGenerator)
    {
        let r = kernel.count
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding ?? Array(repeating: 0, count: r)
        self.outputPadding = outputPadding ?? Array(repeating: 0, count: r)
        // Fan-in of the equivalent up-sampling: each output sees Cin·∏(k/s) inputs.
        let fanIn = inChannels * zip(kernel, stride).reduce(1) { $0 * max(1, $1.0 / $1.1) }
        weight = Variable(heNormal([inChannels, outChannels] + kernel, fanIn: fanIn, rng: &rng), requiresGrad: true)
        self.bias = bias ? Variable(Tensor(shape: [outChannels]), requiresGrad: true) : nil
    }

    public var localParameters: [(String, Variable)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }

    /// The forward convolution this layer is the adjoint of, for an input `[N, Cin, in…]`.
    public func geometry(for shape: [Int]) throws -> ConvGeometry {
        guard shape.count == kernel.count + 2, shape[1] == inChannels else {
            throw ConvError.invalidGeometry(reason: "input \(shape) for a transposed convolution with \(inChannels) channels and kernel \(kernel)")
        }
        var outSize: [Int] = []
        for a in 0..<kernel.count {
            let span: Int = (shape[2 + a] - 1) * stride[a] - 2 * padding[a]
            outSize.append(span + kernel[a] + outputPadding[a])
        }
        return try ConvGeometry(batch: shape[0], inChannels: outChannels, outChannels: inChannels, inputSize: outSize,
                                kernel: kernel, stride: stride, padding: padding, dilation: Array(repeating: 1, count: kernel.count))
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        let g: ConvGeometry
        do { g = try geometry(for: x.shape) } catch { preconditionFailure("\(error)") }
        return convTranspose(x, weight: weight, bias: bias, plan: plan.prepared(g, weight: weight))
    }
}

/// A layer's convolution plan, rebuilt when the geometry changes and repacked when the weights
/// change (their `version` moves, e.g. after an optimizer step).
struct PackedPlan {
    private var plan: ConvPlan?
    private var packedVersion = -1

    mutating func prepared(_ g: ConvGeometry, weight: Variable) -> ConvPlan {
        if plan?.geometry != g {
            plan = ConvPlan(g)
            packedVersion = -1
        }
        if packedVersion != weight.version {
            weight.value.storage.withUnsafeBufferPointer { plan!.pack(weight: $0.baseAddress!) }
            packedVersion = weight.version
        }
        return plan!
    }
}
