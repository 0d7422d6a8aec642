import MedVoxCore

extension BenchSuite {
    /// `medvox bench model CARD`: one model's forward pass (`ModelBenchmark`). `--size N` sets
    /// every spatial size (default: the card's patch or fixed input); `--repeat N` (default 3).
    /// The card comes as the option `card` (the command's second positional).
    public static let model = BenchSuite(name: "model") { args, emit in
        guard let card = args.value("card") else { throw CommandOptionError("bench model needs a model card: medvox bench model CARD") }
        let repeats = try args.int("repeat", range: 1...1000) ?? 3
        let size = try args.int("size", range: 1...1024)
        let row = try ModelBenchmark.run(card: card, size: size, repeats: repeats)
        emit(args.flag("json") ? row.json : row.text)
    }
}
