import MedVoxCore
import MedVoxTensor

/// `medvox bench conv`: the convolution layers of the engine issue (library: ConvBenchmark).
/// `--size N` keeps the layers of that size; `--dir DIR` also writes their tensors for
/// Tools/bench/conv_peers.py; `--repeat N` sets the timed repetitions (default 5).
let convBenchSuite = BenchSuite(name: "conv") { args in
    let repeats = try args.int("repeat", range: 1...1000) ?? 5
    let size = try args.int("size", range: 1...4096)
    let layers = ConvBenchmark.layers.filter { size == nil || $0.size == size }
    if layers.isEmpty { throw UsageError("no conv benchmark layer has size \(size!)") }
    let json = args.flag("json")
    let peak = ConvBenchmark.peakGflops()
    if !json {
        print("conv: \(Runtime.threads) threads, \(ConvKernels.isa) kernels, measured FP32 peak \(String(format: "%.1f", peak)) GFLOP/s")
    }
    for layer in layers {
        let row = try ConvBenchmark.run(layer, repeats: repeats, peak: peak, dumpDirectory: args.value("dir"))
        print(json ? row.json : row.text)
    }
}
