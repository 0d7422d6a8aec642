import FuzzSupport
import MedVoxCore
import MedVoxNN

/// Bytes -> Safetensors.decode (header JSON, dtypes, shapes, offsets).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.start()
    let b = Array(UnsafeBufferPointer(start: data, count: size))
    Fuzz.expectCleanly { _ = try Safetensors.decode(b, path: "fuzz.safetensors") }
    return 0
}

@_cdecl("FuzzSafetensors_main")
public func fuzzSafetensorsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    Fuzz.main(argc, argv, fuzzSafetensors)
}
