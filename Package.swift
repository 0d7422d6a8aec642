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
    ],
    targets: [
        // System libraries (Debian -dev packages): a module map over the header, nothing else.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CDeflate", path: "Sources/CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),

        .target(name: "MedVoxCore"),
        .target(name: "MedVoxIO", dependencies: ["MedVoxCore", "CZlib", "CPNG", "CDeflate"]),
        .target(name: "MedVoxTensor", dependencies: ["MedVoxCore"]),

        .executableTarget(name: "medvox", dependencies: ["MedVoxCore", "MedVoxIO", "MedVoxTensor"]),

        .testTarget(name: "MedVoxCoreTests", dependencies: ["MedVoxCore"]),
        .testTarget(name: "MedVoxIOTests", dependencies: ["MedVoxIO"]),
        .testTarget(name: "MedVoxTensorTests", dependencies: ["MedVoxTensor"]),
        .testTarget(name: "medvoxCLITests", dependencies: ["medvox"]),
    ],
    swiftLanguageModes: [.v5]
)
