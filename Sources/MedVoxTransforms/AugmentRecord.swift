/// What `medvox augment --record` writes: enough to reproduce and inspect a draw.
public struct AugmentRecord: Codable, Sendable {
    public var input: String
    public var seed: UInt64
    public var transforms: [AppliedTransform]

    public init(input: String, seed: UInt64, transforms: [AppliedTransform]) {
        self.input = input
        self.seed = seed
        self.transforms = transforms
    }
}
