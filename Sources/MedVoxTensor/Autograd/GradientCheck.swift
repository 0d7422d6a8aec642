import MedVoxCore

/// The result of comparing back-propagated gradients with central finite differences.
public struct GradientCheckResult: CustomStringConvertible {
    /// Largest |analytic − numeric| / max(|numeric|, |analytic|, floor) over all checked elements;
    /// +∞ where either gradient is NaN or infinite, so a check against a tolerance fails there.
    public var maxRelativeError: Double
    public var worst: (input: Int, element: Int, analytic: Double, numeric: Double)
    public var description: String {
        "max relative error \(maxRelativeError) at input \(worst.input)[\(worst.element)]: analytic \(worst.analytic), numeric \(worst.numeric)"
    }
}

/// Checks the gradients of `f` with respect to `inputs` (leaves with `requiresGrad`).
///
/// The scalar checked is L = Σ wᵢ·f(x)ᵢ with fixed random weights w, accumulated in Float64;
/// the analytic gradient comes from `backward(seed: w)`, the numeric one from central
/// differences (L(x + ε) − L(x − ε)) / 2ε, one element at a time. Relative errors use `floor`
/// as the smallest denominator, so near-zero gradients are compared absolutely.
public func gradientCheck(inputs: [Variable], eps: Float = 1e-2, floor: Double = 1e-2, seed: UInt64 = 7,
                          _ f: () -> Variable) -> GradientCheckResult
{
    var rng = SeededGenerator(seed: seed)
    let out = f()
    var w = out.value.zerosLike()
    for i in 0..<w.count { w.storage[i] = Float(rng.uniform(-1, 1)) }
    for x in inputs { x.zeroGrad() }
    out.backward(seed: w)
    func loss() -> Double {
        let y = withoutGradients(f).value
        var s = 0.0
        for i in 0..<y.count { s += Double(w.storage[i]) * Double(y.storage[i]) }
        return s
    }
    var result = GradientCheckResult(maxRelativeError: 0, worst: (0, 0, 0, 0))
    for (k, x) in inputs.enumerated() {
        let analytic = x.grad ?? x.value.zerosLike()
        for i in 0..<x.value.count {
            let v = x.value.storage[i]
            x.value.storage[i] = v + eps
            let up = loss()
            x.value.storage[i] = v - eps
            let down = loss()
            x.value.storage[i] = v
            let numeric = (up - down) / (2 * Double(eps))
            let a = Double(analytic.storage[i])
            let err = a.isFinite && numeric.isFinite ? abs(a - numeric) / max(abs(numeric), abs(a), floor) : .infinity
            if err > result.maxRelativeError { result = GradientCheckResult(maxRelativeError: err, worst: (k, i, a, numeric)) }
        }
    }
    return result
}
