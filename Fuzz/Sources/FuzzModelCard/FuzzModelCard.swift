import FuzzSupport
import MedVoxCore
import MedVoxInference

/// Bytes -> ModelCard.read (JSON decoding and validation).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelCard(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.start()
    let path = Fuzz.file(UnsafeBufferPointer(start: data, count: size), suffix: ".json")
    Fuzz.expectCleanly { _ = try ModelCard.read(path) }
    return 0
}

@_cdecl("FuzzModelCard_main")
public func fuzzModelCardMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    Fuzz.main(argc, argv, fuzzModelCard)
}
