// swift-tools-version:6.0
// MedVox — medical image analysis on the CPU. Layout and dependency rules: ../shared/DESIGN.md.
import PackageDescription

let package = Package(
    name: "MedVox",
    products: [
        .executable(name: "medvox", targets: ["medvox"]),
        .library(name: "MedVoxCore", targets: ["MedVoxCore"]),
    ],
    targets: [
        // System libraries (Debian -dev packages): a module map over the header, nothing else.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),

        .target(name: "MedVoxCore"),

        .executableTarget(name: "medvox", dependencies: ["MedVoxCore"]),

        .testTarget(name: "MedVoxCoreTests", dependencies: ["MedVoxCore"]),
    ],
    swiftLanguageModes: [.v5]
)
