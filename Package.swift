// swift-tools-version:6.0
// MedVox — medical image analysis on the CPU. Layout and dependency rules: docs/architecture.md.
import PackageDescription

let package = Package(
    name: "MedVox",
    products: [
        .executable(name: "medvox", targets: ["medvox"]),
        .library(name: "MedVoxCore", targets: ["MedVoxCore"]),
        .library(name: "MedVoxIO", targets: ["MedVoxIO"]),
        .library(name: "MedVoxTensor", targets: ["MedVoxTensor"]),
        .library(name: "MedVoxInference", targets: ["MedVoxInference"]),
        .library(name: "MedVoxNN", targets: ["MedVoxNN"]),
        .library(name: "MedVoxInterchange", targets: ["MedVoxInterchange"]),
        .library(name: "MedVoxTransforms", targets: ["MedVoxTransforms"]),
        .library(name: "MedVoxTraining", targets: ["MedVoxTraining"]),
        .library(name: "MedVoxReport", targets: ["MedVoxReport"]),
    ],
    targets: [
        // System libraries (Debian -dev packages): a module map over the header, nothing else.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDeflate", path: "Sources/CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CCharLS", path: "Sources/CCharLS", pkgConfig: "charls", providers: [.apt(["libcharls-dev"])]),
        .systemLibrary(name: "COpenJPEG", path: "Sources/COpenJPEG", pkgConfig: "libopenjp2", providers: [.apt(["libopenjp2-7-dev"])]),
        // Convolution micro-kernels in C (AVX-512 / AVX2+FMA / plain, chosen at run time).
        .target(name: "CMedVoxKernels", path: "Sources/CMedVoxKernels"),

        // Libraries, in dependency order (docs/architecture.md): each may use only those above it.
        .target(name: "MedVoxCore", dependencies: ["CMedVoxKernels"]),
        .target(name: "MedVoxIO", dependencies: ["MedVoxCore", "CZlib", "CDeflate", "CPNG", "CJPEG", "CCharLS", "COpenJPEG"]),
        .target(name: "MedVoxTensor", dependencies: ["MedVoxCore", "CMedVoxKernels"]),
        .target(name: "MedVoxNN", dependencies: ["MedVoxCore", "MedVoxTensor"]),
        // Readers of other ecosystems' model files (ONNX); they decode, never execute.
        // Importers lower models into MedVoxNN's graph, which the engine runs.
        .target(name: "MedVoxInterchange", dependencies: ["MedVoxCore", "MedVoxTensor", "MedVoxNN"]),
        .target(name: "MedVoxTransforms", dependencies: ["MedVoxCore", "CMedVoxKernels"]),
        .target(name: "MedVoxInference", dependencies: ["MedVoxCore", "MedVoxIO", "MedVoxTensor", "MedVoxNN", "MedVoxTransforms", "MedVoxInterchange"]),
        // Training orchestration (datasets, sampling, augmentation, loop, search, cards): needs
        // Transforms and Inference, which MedVoxNN may not depend on.
        .target(
            name: "MedVoxTraining",
            dependencies: ["MedVoxCore", "MedVoxIO", "MedVoxTensor", "MedVoxNN", "MedVoxTransforms", "MedVoxInference"]),
        .target(name: "MedVoxReport", dependencies: ["MedVoxCore", "MedVoxIO", "MedVoxTransforms", "MedVoxInference"]),
        // Speed benchmarks (`medvox bench`): they measure the libraries above and live apart from them.
        .target(
            name: "MedVoxBench",
            dependencies: ["CMedVoxKernels", "MedVoxCore", "MedVoxIO", "MedVoxTensor", "MedVoxNN", "MedVoxTransforms", "MedVoxInference", "MedVoxTraining"]),

        .executableTarget(
            name: "medvox",
            dependencies: [
                "MedVoxCore", "MedVoxIO", "MedVoxTensor", "MedVoxNN", "MedVoxTransforms",
                "MedVoxInference", "MedVoxTraining", "MedVoxReport", "MedVoxBench", "MedVoxInterchange",
            ]),

        .target(name: "MedVoxTestSupport", path: "Tests/MedVoxTestSupport"),
        .testTarget(name: "MedVoxCoreTests", dependencies: ["MedVoxCore"]),
        .testTarget(name: "MedVoxIOTests", dependencies: ["MedVoxIO", "MedVoxTestSupport"]),
        .testTarget(name: "MedVoxTensorTests", dependencies: ["MedVoxTensor", "MedVoxTestSupport"]),
        .testTarget(name: "MedVoxNNTests", dependencies: ["MedVoxNN", "MedVoxTestSupport"]),
        .testTarget(name: "MedVoxInterchangeTests", dependencies: ["MedVoxInterchange", "MedVoxNN", "MedVoxTensor", "MedVoxTestSupport"]),
        .testTarget(name: "MedVoxTransformsTests", dependencies: ["MedVoxTransforms", "MedVoxTestSupport"]),
        .testTarget(
            name: "MedVoxInferenceTests", dependencies: ["MedVoxInference", "MedVoxInterchange", "MedVoxTransforms", "MedVoxTestSupport"]),
        .testTarget(name: "MedVoxTrainingTests", dependencies: ["MedVoxTraining"]),
        .testTarget(name: "MedVoxReportTests", dependencies: ["MedVoxReport", "MedVoxTestSupport"]),
        .testTarget(name: "MedVoxBenchTests", dependencies: ["MedVoxBench"]),
        .testTarget(name: "medvoxCLITests", dependencies: ["medvox", "MedVoxTestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
