/// The plain twin of `gemm`: C = α·op(A)·op(B) + β·C with Double accumulation, one element at a
/// time. It defines what `gemm` must compute.
public func gemmReference(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: [Float], lda: Int, b: [Float], ldb: Int, beta: Float = 0, c: inout [Float], ldc: Int
) {
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += Double(av) * Double(bv)
            }
            c[i * ldc + j] = Float(Double(alpha) * s + (beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])))
        }
    }
}
