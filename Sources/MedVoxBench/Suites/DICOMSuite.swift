import Foundation
import MedVoxCore
import MedVoxIO

extension BenchSuite {
    /// `medvox bench dicom [--size N] [--repeat N] [--dir DIR] [--json]`: DICOM scan/decode/convert
    /// on a synthetic CT series (default 512×512×300), beside dcm2niix when it is installed.
    public static let dicom = BenchSuite(name: "dicom") { args, emit in
        let size = try args.int("size", range: 16...4096) ?? 512
        let repeats = try args.int("repeat", range: 1...100) ?? 3
        let dir = args.value("dir") ?? NSTemporaryDirectory()
        let slices = size >= 512 ? 300 : max(8, size / 2)
        let rows = try DICOMBenchmark.run(size: size, slices: slices, repeats: repeats, dir: dir)
        let mine = Dictionary(uniqueKeysWithValues: rows.map { ($0.name, $0.seconds) })
        for r in rows {
            var ratio = ""
            if r.name.hasPrefix("dcm2niix"), let m = mine[r.name == "dcm2niix -z n" ? "medvox convert .nii" : "medvox convert .nii.gz"] {
                ratio = String(format: "  (medvox %.2fx faster)", r.seconds / m)
            }
            if args.flag("json") {
                emit("{\"suite\": \"dicom\", \"name\": \(jsonString(r.name)), \"seconds\": \(jsonNumber(r.seconds)), \"size\": \(jsonString(r.note)), \"threads\": \(Runtime.threads)}")
            } else {
                emit("dicom  " + r.name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%8.3f s", r.seconds) + "  " + r.note + ratio)
            }
        }
    }
}
