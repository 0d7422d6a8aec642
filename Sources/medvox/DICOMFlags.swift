import Foundation
import MedVoxCore
import MedVoxIO

/// The DICOM options `info` and `convert` share, and the series list `info` prints for a
/// folder holding several series.
enum DICOMFlags {
    /// Their lines in a `CommandSpec` text.
    static let options = """
        --series UID              DICOM: the SeriesInstanceUID to use (UID#label for a split part)
        --allow-irregular         DICOM: accept non-uniform slice spacing (mean spacing, with a warning)
        --correct-tilt            DICOM: resample gantry-tilted CT onto an orthogonal grid
        """

    static func readOptions(_ args: ParsedArguments) throws -> DICOMReadOptions {
        DICOMReadOptions(
            seriesUID: args.value("series"),
            assembly: DICOMAssemblyOptions(allowIrregular: args.flag("allow-irregular"), correctTilt: args.flag("correct-tilt")))
    }

    /// Prints the series list and returns true when `input` is DICOM holding other than exactly
    /// one series and no `--series` was given.
    static func printSeriesList(_ input: String, _ options: DICOMReadOptions, json: Bool) -> Bool {
        guard options.seriesUID == nil, DICOMSource.isDICOM(input), let scan = try? DICOMScanner.scan(input) else { return false }
        let volumes = scan.series.filter { !$0.slices.isEmpty }
        guard volumes.count > 1 else { return false }
        let rows = scan.series.map { $0.summary(options.assembly) }
        if json {
            let list = rows.map { "{" + $0.map { "\(jsonString($0.key)): \($0.value.json)" }.joined(separator: ", ") + "}" }
            print("{\"path\": \(jsonString(input)), \"format\": \"DICOM\", \"series\": [\(list.joined(separator: ", "))], \"skipped\": \(scan.skipped.count)}")
        } else {
            print("\(input): \(volumes.count) series (choose one with --series UID)")
            for r in rows {
                print("")
                for (k, v) in r { print("  " + k.padding(toLength: 16, withPad: " ", startingAt: 0) + v.plain) }
            }
            if !scan.skipped.isEmpty { print("\n  skipped \(scan.skipped.count) file(s)") }
        }
        return true
    }
}
