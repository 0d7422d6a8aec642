import MedVoxCore

/// Errors from convolution shapes that come from users (model files, CLI sizes).
public enum ConvError: MedVoxError, Equatable {
    /// The geometry is not a valid 2D or 3D convolution; `reason` says which field is wrong.
    case invalidGeometry(reason: String)

    public var description: String {
        switch self {
        case let .invalidGeometry(reason): return "convolution: invalid geometry: \(reason)"
        }
    }
}

/// The shape of one N-d convolution (N = 2 or 3), in PyTorch's conventions.
///
/// Tensors are contiguous Float32: input `[batch, inChannels, inputSize...]`, output
/// `[batch, outChannels, outputSize...]` (NCHW or NCDHW, last axis fastest), weights
/// `[outChannels, inChannels, kernel...]`, bias `[outChannels]`. Padding is zero padding on both
/// sides of each spatial axis.
///
/// ```swift
/// let g = try ConvGeometry(batch: 1, inChannels: 16, outChannels: 16, inputSize: [64, 64, 64],
///                          kernel: [3, 3, 3], stride: [1, 1, 1], padding: [1, 1, 1], dilation: [1, 1, 1])
/// g.outputSize  // [64, 64, 64]
/// ```
public struct ConvGeometry: Equatable, Sendable, CustomStringConvertible {
    public var batch: Int, inChannels: Int, outChannels: Int
    /// Spatial sizes: (H, W) or (D, H, W).
    public var inputSize: [Int]
    /// Per spatial axis, in the order of `inputSize`.
    public var kernel: [Int], stride: [Int], padding: [Int], dilation: [Int]

    /// Output spatial sizes: `(in + 2p - d(k-1) - 1) / s + 1` per axis.
    public var outputSize: [Int] {
        (0..<inputSize.count).map { a in
            (inputSize[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) / stride[a] + 1
        }
    }

    /// Spatial rank: 2 or 3.
    public var spatialRank: Int { inputSize.count }
    /// Taps per filter: the product of `kernel`.
    public var taps: Int { kernel.reduce(1, *) }
    public var inputCount: Int { batch * inChannels * inputSize.reduce(1, *) }
    public var outputCount: Int { batch * outChannels * outputSize.reduce(1, *) }
    public var weightCount: Int { outChannels * inChannels * taps }
    /// Multiply-adds × 2 of the forward pass, padding taps included.
    public var flops: Double {
        2 * Double(batch) * Double(outChannels) * Double(inChannels) * Double(taps)
            * Double(outputSize.reduce(1, *))
    }

    /// Checks and builds a geometry; throws `ConvError.invalidGeometry` for shapes that cannot be
    /// convolved (wrong rank, non-positive sizes, a kernel larger than the padded input, or
    /// sizes whose element counts overflow).
    public init(
        batch: Int, inChannels: Int, outChannels: Int, inputSize: [Int],
        kernel: [Int], stride: [Int], padding: [Int], dilation: [Int]
    ) throws {
        self.batch = batch
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.inputSize = inputSize
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        try validate()
    }

    func validate() throws {
        func fail(_ r: String) -> ConvError { .invalidGeometry(reason: r) }
        let r = inputSize.count
        guard r == 2 || r == 3 else { throw fail("\(r) spatial axes; expected 2 or 3") }
        for (name, v) in [("kernel", kernel), ("stride", stride), ("padding", padding), ("dilation", dilation)]
        where v.count != r {
            throw fail("\(name) has \(v.count) entries for \(r) spatial axes")
        }
        guard batch >= 1, inChannels >= 1, outChannels >= 1 else {
            throw fail("batch \(batch), channels \(inChannels)->\(outChannels) must be positive")
        }
        guard inputSize.allSatisfy({ $0 >= 1 }) else { throw fail("input size \(inputSize) must be positive") }
        guard kernel.allSatisfy({ $0 >= 1 }), stride.allSatisfy({ $0 >= 1 }), dilation.allSatisfy({ $0 >= 1 }),
            padding.allSatisfy({ $0 >= 0 })
        else { throw fail("kernel \(kernel), stride \(stride), dilation \(dilation) must be ≥ 1 and padding \(padding) ≥ 0") }
        for a in 0..<r {
            let (span, o1) = dilation[a].multipliedReportingOverflow(by: kernel[a] - 1)
            guard !o1, span < inputSize[a] + 2 * padding[a] else {
                throw fail("kernel \(kernel) with dilation \(dilation) exceeds the padded input \(inputSize) + 2×\(padding)")
            }
            guard padding[a] < 1 << 20, inputSize[a] < 1 << 30 else { throw fail("size \(inputSize) or padding \(padding) too large") }
        }
        // Element counts (with padding) must fit comfortably in Int.
        var total = 1.0
        for v in [Double(batch), Double(max(inChannels, outChannels))] + inputSize.indices.map({ Double(inputSize[$0] + 2 * padding[$0]) }) {
            total *= v
        }
        guard total < 1e15, Double(outChannels) * Double(inChannels) * Double(taps) < 1e12 else {
            throw fail("tensor sizes overflow (batch \(batch), channels \(inChannels)->\(outChannels), size \(inputSize))")
        }
    }

    public var description: String {
        "conv\(spatialRank)d \(inChannels)->\(outChannels) k\(kernel) s\(stride) p\(padding) d\(dilation) in \(batch)x\(inputSize)"
    }

    /// The same convolution viewed as 3D (a 2D one gets a leading depth axis of size 1).
    var as3D: Conv3DShape {
        let pad = { (v: [Int], f: Int) in self.spatialRank == 3 ? v : [f] + v }
        return Conv3DShape(
            n: batch, ci: inChannels, co: outChannels, input: pad(inputSize, 1), kernel: pad(kernel, 1),
            stride: pad(stride, 1), padding: pad(padding, 0), dilation: pad(dilation, 1), output: pad(outputSize, 1))
    }
}

/// A convolution as 3D (D, H, W); 2D convolutions have D = 1. Internal to the kernels.
struct Conv3DShape {
    var n, ci, co: Int
    var input, kernel, stride, padding, dilation, output: [Int]
    var inPlane: Int { input[0] * input[1] * input[2] }
    var outPlane: Int { output[0] * output[1] * output[2] }
    var taps: Int { kernel[0] * kernel[1] * kernel[2] }
}
