/// Fully connected layer: y = x·Wᵀ + b with x `[N, in]`, W `[out, in]` (PyTorch layout), b `[out]`.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    precondition(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
                 "linear: input \(x.shape) does not match weight \(weight.shape)")
    let n = x.shape[0], fin = x.shape[1], fout = weight.shape[0]
    var y = Tensor(shape: [n, fout])
    if let bias {
        for r in 0..<n { for j in 0..<fout { y.storage[r * fout + j] = bias.storage[j] } }
    }
    x.storage.withUnsafeBufferPointer { xp in
        weight.storage.withUnsafeBufferPointer { wp in
            y.storage.withUnsafeMutableBufferPointer { yp in
                gemm(transA: false, transB: true, m: n, n: fout, k: fin, a: xp.baseAddress!, lda: fin,
                     b: wp.baseAddress!, ldb: fin, beta: bias == nil ? 0 : 1, c: yp.baseAddress!, ldc: fout)
            }
        }
    }
    return y
}

/// Returns the gradients for x (`gy·W`), W (`gyᵀ·x`) and b (column sums of gy).
public func linearBackward(_ gy: Tensor, input x: Tensor, weight: Tensor) -> (gx: Tensor, gWeight: Tensor, gBias: Tensor) {
    let n = x.shape[0], fin = x.shape[1], fout = weight.shape[0]
    var gx = Tensor(shape: x.shape), gw = Tensor(shape: weight.shape), gb = Tensor(shape: [fout])
    gy.storage.withUnsafeBufferPointer { gp in
        weight.storage.withUnsafeBufferPointer { wp in
            gx.storage.withUnsafeMutableBufferPointer { gxp in
                gemm(transA: false, transB: false, m: n, n: fin, k: fout, a: gp.baseAddress!, lda: fout,
                     b: wp.baseAddress!, ldb: fin, c: gxp.baseAddress!, ldc: fin)
            }
        }
        x.storage.withUnsafeBufferPointer { xp in
            gw.storage.withUnsafeMutableBufferPointer { gwp in
                gemm(transA: true, transB: false, m: fout, n: fin, k: n, a: gp.baseAddress!, lda: fout,
                     b: xp.baseAddress!, ldb: fin, c: gwp.baseAddress!, ldc: fin)
            }
        }
    }
    for r in 0..<n { for j in 0..<fout { gb.storage[j] += gy.storage[r * fout + j] } }
    return (gx, gw, gb)
}
