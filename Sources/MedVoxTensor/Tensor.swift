import MedVoxCore

/// A dense, contiguous Float32 array with a shape, row-major (last index fastest).
///
/// Image tensors are NCHW (2D) or NCDHW (3D): batch, channels, then spatial axes with the last
/// (W) fastest. A `Volume` (i fastest, then j, k) maps onto a 1×1×D×H×W tensor with D = nz,
/// H = ny, W = nx without copying the element order.
///
/// ```swift
/// var t = Tensor(shape: [1, 1, 4, 4, 4])
/// t[0, 0, 1, 2, 3] = 1
/// ```
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var storage: [Float]

    public init(shape: [Int], storage: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == storage.count, "shape \(shape) does not hold \(storage.count) elements")
        self.shape = shape
        self.storage = storage
    }

    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, storage: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A tensor for a kernel that overwrites every element before anything reads it: no zero fill
    /// (a U-Net's activations are hundreds of MB, written once by the convolution that makes them).
    public init(overwrittenShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        let n = shape.reduce(1, *)
        self.init(shape: shape, storage: [Float](unsafeUninitializedCapacity: n) { b, c in
            adviseHugePages(b.baseAddress!, count: n)
            c = n
        })
    }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    /// Strides in elements, row-major.
    public var strides: [Int] { rowMajorStrides(shape) }

    @inlinable public func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index rank \(index.count) != tensor rank \(shape.count)")
        var o = 0
        for (i, n) in zip(index, shape) {
            precondition(i >= 0 && i < n, "index \(index) out of bounds for shape \(shape)")
            o = o * n + i
        }
        return o
    }

    public subscript(_ index: Int...) -> Float {
        get { storage[offset(index)] }
        set { storage[offset(index)] = newValue }
    }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
    }

    /// A 1×1×D×H×W tensor over one frame of a volume (D = nz, H = ny, W = nx).
    public init(volume: Volume, frame: Int = 0) {
        let n = volume.frameCount
        let voxels = volume.frames == 1 ? volume.voxels : Array(volume.voxels[(frame * n)..<((frame + 1) * n)])
        self.init(shape: [1, 1, volume.nz, volume.ny, volume.nx], storage: voxels)
    }
}

/// Row-major strides in elements of `shape` (last axis 1).
public func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        s[i] = acc
        acc *= shape[i]
    }
    return s
}
