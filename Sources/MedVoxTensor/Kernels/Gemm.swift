import MedVoxCore

/// Single-precision matrix multiply, row-major: C = α·op(A)·op(B) + β·C with op(A) m×k, op(B)
/// k×n, C m×n (leading dimensions `lda`, `ldb`, `ldc` in elements).
///
/// Transposed operands are first copied into row-major scratch, then C is computed in tiles of
/// 4 rows × 256 columns that stay in L1 while the k loop streams rows of B through them; tiles
/// of rows go to different threads. Each element of C accumulates its k products in order, so
/// the result does not depend on the thread count. `gemmReference` is the plain twin.
public func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int = Runtime.threads
) {
    guard m > 0, n > 0 else { return }
    // Row-major copies of op(A) (m×k) and op(B) (k×n) where the operand is transposed.
    var packedA: [Float] = [], packedB: [Float] = []
    if transA {
        packedA = [Float](repeating: 0, count: m * k)
        for p in 0..<k { for i in 0..<m { packedA[i * k + p] = a[p * lda + i] } }
    }
    if transB {
        packedB = [Float](repeating: 0, count: k * n)
        for j in 0..<n { for p in 0..<k { packedB[p * n + j] = b[j * ldb + p] } }
    }
    packedA.withUnsafeBufferPointer { pa in
        packedB.withUnsafeBufferPointer { pb in
            let A = transA ? pa.baseAddress! : a, ldA = transA ? k : lda
            let B = transB ? pb.baseAddress! : b, ldB = transB ? n : ldb
            let rowTiles = (m + GemmTile.rows - 1) / GemmTile.rows
            parallelFor(rowTiles, threads: threads) { t in
                let i0 = t * GemmTile.rows, i1 = min(m, i0 + GemmTile.rows)
                for i in i0..<i1 {
                    let ci = c + i * ldc
                    if beta == 0 {
                        for j in 0..<n { ci[j] = 0 }
                    } else if beta != 1 {
                        for j in 0..<n { ci[j] *= beta }
                    }
                }
                var j0 = 0
                while j0 < n {
                    let w = min(GemmTile.columns, n - j0)
                    for p in 0..<k {
                        let bp = B + p * ldB + j0
                        for i in i0..<i1 {
                            let s = alpha * A[i * ldA + p]
                            if s == 0 { continue }
                            let ci = c + i * ldc + j0
                            for j in 0..<w { ci[j] += s * bp[j] }
                        }
                    }
                    j0 += w
                }
            }
        }
    }
}

/// Tile sizes of `gemm`.
enum GemmTile {
    static let rows = 4
    static let columns = 256
}
