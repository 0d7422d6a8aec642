import Foundation

/// A learning rate as a function of the step number (0-based).
public protocol LearningRateSchedule: Sendable {
    func learningRate(at step: Int) -> Double
}

/// nnU-Net's polynomial decay: lr₀ · (1 − step / totalSteps)^exponent (Isensee et al. 2021).
public struct PolynomialSchedule: LearningRateSchedule {
    public var initial: Double, totalSteps: Int, exponent: Double
    public init(initial: Double, totalSteps: Int, exponent: Double = 0.9) {
        self.initial = initial
        self.totalSteps = totalSteps
        self.exponent = exponent
    }
    public func learningRate(at step: Int) -> Double {
        initial * Foundation.pow(max(0, 1 - Double(step) / Double(totalSteps)), exponent)
    }
}

/// Linear warm-up from lr₀/warmupSteps to lr₀ over `warmupSteps`, then cosine decay to
/// `minimum` at `totalSteps` (Loshchilov & Hutter 2017, without restarts).
public struct CosineSchedule: LearningRateSchedule {
    public var initial: Double, warmupSteps: Int, totalSteps: Int, minimum: Double
    public init(initial: Double, warmupSteps: Int = 0, totalSteps: Int, minimum: Double = 0) {
        self.initial = initial
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minimum = minimum
    }
    public func learningRate(at step: Int) -> Double {
        if step < warmupSteps { return initial * Double(step + 1) / Double(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let t = min(1, Double(step - warmupSteps) / Double(span))
        return minimum + 0.5 * (initial - minimum) * (1 + Foundation.cos(Double.pi * t))
    }
}

/// lr₀ · γ^⌊step / stepSize⌋.
public struct StepSchedule: LearningRateSchedule {
    public var initial: Double, stepSize: Int, gamma: Double
    public init(initial: Double, stepSize: Int, gamma: Double = 0.1) {
        self.initial = initial
        self.stepSize = stepSize
        self.gamma = gamma
    }
    public func learningRate(at step: Int) -> Double { initial * Foundation.pow(gamma, Double(step / stepSize)) }
}
