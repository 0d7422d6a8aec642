// swift-tools-version:6.0
// libFuzzer targets for MedVox's readers. Kept out of the main package so that `swift build`
// and `swift test` there never compile them; see README.md and run_all.sh.
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which differs between checkouts.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let medvox = root.lastPathComponent

func fuzzTarget(_ name: String, _ products: [String]) -> Target {
    .executableTarget(
        name: name, dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: medvox) },
        path: "Sources/\(name)")
}

let targets: [(String, [String])] = [
    ("FuzzDICOM", ["MedVoxCore", "MedVoxIO"]),
    ("FuzzRLE", ["MedVoxCore", "MedVoxIO"]),
    ("FuzzJPEGLossless", ["MedVoxCore", "MedVoxIO"]),
    ("FuzzJPEG", ["MedVoxCore", "MedVoxIO"]),
    ("FuzzJPEGLS", ["MedVoxCore", "MedVoxIO"]),
    ("FuzzJPEG2000", ["MedVoxCore", "MedVoxIO"]),
    ("FuzzNIfTI", ["MedVoxCore", "MedVoxIO"]),
    ("FuzzSafetensors", ["MedVoxCore", "MedVoxNN"]),
    ("FuzzModelCard", ["MedVoxCore", "MedVoxInference"]),
    ("FuzzConfigs", ["MedVoxCore", "MedVoxTransforms"]),
    ("FuzzONNX", ["MedVoxCore", "MedVoxNN", "MedVoxInterchange"]),
]

let package = Package(
    name: "MedVoxFuzz",
    products: targets.map { .executable(name: $0.0, targets: [$0.0]) },
    dependencies: [.package(path: root.path)],
    targets: [.target(name: "FuzzSupport", dependencies: [.product(name: "MedVoxCore", package: medvox), .product(name: "MedVoxIO", package: medvox)], path: "Sources/FuzzSupport")]
        + targets.map { fuzzTarget($0.0, $0.1) },
    swiftLanguageModes: [.v5]
)
