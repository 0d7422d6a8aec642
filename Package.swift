// swift-tools-version:6.0
// MedVox — medical image analysis on the CPU. Layout and dependency rules: ../shared/DESIGN.md.
import PackageDescription

let package = Package(
    name: "MedVox",
    products: [
        .executable(name: "medvox", targets: ["medvox"]),
        .library(name: "MedVoxCore", targets: ["MedVoxCore"]),
        .library(name: "MedVoxIO", targets: ["MedVoxIO"]),
        .library(name: "MedVoxTensor", targets: ["MedVoxTensor"]),
        .library(name: "MedVoxTransforms", targets: ["MedVoxTransforms"]),
    ],
    targets: [
        // System libraries (Debian -dev packages): a module map over the header, nothing else.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),

        .target(name: "MedVoxCore"),
        .target(name: "MedVoxIO", dependencies: ["MedVoxCore", "CZlib", "CPNG"]),
        .target(name: "MedVoxTensor", dependencies: ["MedVoxCore"]),
        .target(name: "MedVoxTransforms", dependencies: ["MedVoxCore"]),

        .executableTarget(name: "medvox", dependencies: ["MedVoxCore", "MedVoxIO", "MedVoxTensor", "MedVoxTransforms"]),

        .testTarget(name: "MedVoxCoreTests", dependencies: ["MedVoxCore"]),
        .testTarget(name: "MedVoxIOTests", dependencies: ["MedVoxIO"]),
        .testTarget(name: "MedVoxTensorTests", dependencies: ["MedVoxTensor"]),
        .testTarget(name: "MedVoxTransformsTests", dependencies: ["MedVoxTransforms"]),
        .testTarget(name: "medvoxCLITests", dependencies: ["medvox"]),
    ],
    swiftLanguageModes: [.v5]
)
