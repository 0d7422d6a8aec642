import MedVoxCore
import MedVoxTensor

extension BenchSuite {
    /// `medvox bench conv`: the convolution benchmark layers (`ConvBenchmark.layers`).
    /// `--size N` keeps the layers of that size, `--case A,B` the named ones (e.g. conv3d_1_16_128, as
    /// the dumped files are named); `--dir DIR` also writes their tensors for
    /// Tools/bench/conv_peers.py; `--repeat N` sets the timed repetitions (default 5).
    public static let conv = BenchSuite(name: "conv") { args, emit in
        let repeats = try args.int("repeat", range: 1...1000) ?? 5
        let size = try args.int("size", range: 1...4096)
        let only = args.value("case").map { Set($0.split(separator: ",").map(String.init)) }
        if let only, only.isEmpty { throw CommandOptionError("--case needs at least one layer name") }
        if let only, let unknown = only.subtracting(ConvBenchmark.layers.map(\.name)).sorted().first {
            throw CommandOptionError("no conv benchmark layer is named \(unknown) (names: \(ConvBenchmark.layers.map(\.name).joined(separator: ", ")))")
        }
        let layers = ConvBenchmark.layers.filter { (size == nil || $0.size == size) && (only == nil || only!.contains($0.name)) }
        if layers.isEmpty { throw CommandOptionError("no conv benchmark layer has size \(size!)" + (only == nil ? "" : " among the named cases")) }
        let json = args.flag("json")
        let peak = ConvBenchmark.peakGflops()
        if !json {
            emit("conv: \(Runtime.threads) threads, \(KernelSettings.current.isa) kernels, measured FP32 peak \(String(format: "%.1f", peak)) GFLOP/s")
        }
        for layer in layers {
            let row = try ConvBenchmark.run(layer, repeats: repeats, peak: peak, dumpDirectory: args.value("dir"))
            emit(json ? row.json : row.text)
        }
    }
}
