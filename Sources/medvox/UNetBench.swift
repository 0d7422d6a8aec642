import MedVoxCore
import MedVoxNN

/// `medvox bench unet [--size N] [--repeat N] [--dir DIR]`: the whole 3D U-Net forward of
/// issue 4 (library: UNetBenchmark); default size 128, 3 repetitions. Prints one JSON line.
let unetBenchSuite = BenchSuite(name: "unet") { args in
    let size = try args.int("size", range: 16...512) ?? 128
    guard size % 16 == 0 else { throw UsageError("--size must be a multiple of 16 for the 5-level U-Net, got \(size)") }
    let repeats = try args.int("repeat", range: 1...100) ?? 3
    print(try UNetBenchmark.run(size: size, repeats: repeats, dumpDirectory: args.value("dir")))
}
