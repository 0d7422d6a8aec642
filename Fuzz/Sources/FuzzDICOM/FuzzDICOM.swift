import FuzzSupport
import MedVoxCore
import MedVoxIO

/// File bytes -> DICOMFile (meta, dataset, deflate) -> pixel module -> every frame's values
/// (all pixel decoders, reached through the transfer syntax) -> a one-file series -> Volume.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDICOM(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.start()
    let buffer = UnsafeBufferPointer(start: data, count: size)
    Fuzz.expectCleanly {
        let f = try DICOMFile(bytes: Array(buffer), path: "fuzz.dcm")
        _ = f.isDICOMDIR
        let info = try f.pixelInfo()
        for frame in 0..<min(info.numberOfFrames, 4) { _ = try f.frameValues(frame) }
    }
    // The same bytes as a file on disk: header prefix re-read, series scan and assembly.
    let path = Fuzz.file(buffer, suffix: ".dcm")
    Fuzz.expectCleanly {
        let scan = try DICOMScanner.scan(files: [path])
        for s in scan.series.prefix(2) {
            _ = s.outputBaseName
            _ = try s.loadVolume()
        }
    }
    return 0
}

@_cdecl("FuzzDICOM_main")
public func fuzzDICOMMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    Fuzz.main(argc, argv, fuzzDICOM)
}
