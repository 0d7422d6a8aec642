import MedVoxCore

extension BenchSuite {
    /// `medvox bench unet`: the whole 3D U-Net forward (`UNetBenchmark`).
    /// `--size N` sets the volume edge (default 128, a multiple of 16); `--dir DIR` also writes the
    /// weights, input and output for Tools/bench/unet_peers.py; `--repeat N` (default 3).
    public static let unet = BenchSuite(name: "unet") { args, emit in
        let repeats = try args.int("repeat", range: 1...1000) ?? 3
        let size = try args.int("size", range: 16...1024) ?? 128
        guard size % 16 == 0 else { throw CommandOptionError("the U-Net benchmark needs a size divisible by 16, not \(size)") }
        let row = try UNetBenchmark.run(size: size, repeats: repeats, dumpDirectory: args.value("dir"))
        emit(args.flag("json") ? row.json : row.text)
    }
}
