/// Anatomical display planes of a volume in (closest) RAS orientation.
public enum Plane: String, CaseIterable, Sendable {
    /// Through k (superior–inferior axis): anterior at the top.
    case axial
    /// Through j (anterior–posterior axis): superior at the top.
    case coronal
    /// Through i (left–right axis): superior at the top, anterior on the left.
    case sagittal

    /// The RAS axis the plane cuts (0 = i/x, 1 = j/y, 2 = k/z).
    public var normalAxis: Int {
        switch self {
        case .axial: return 2
        case .coronal: return 1
        case .sagittal: return 0
        }
    }
}
