import FuzzSupport
import MedVoxCore
import MedVoxIO

/// One encapsulated frame -> RLEDecoder. The first 4 bytes choose the frame description (size, bits,
/// samples, sign, planar configuration) so that the decoder's checks against it are fuzzed too
/// (FuzzFrame.decode).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRLE(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzFrame.decode(RLEDecoder.self, data, size)
}

@_cdecl("FuzzRLE_main")
public func fuzzRLEMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    Fuzz.main(argc, argv, fuzzRLE)
}
