import FuzzSupport
import MedVoxCore
import MedVoxIO

/// One encapsulated frame -> JPEG2000Decoder. The first 4 bytes choose the frame description (size, bits,
/// samples, sign, planar configuration) so that the decoder's checks against it are fuzzed too
/// (FuzzFrame.decode).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG2000(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzFrame.decode(JPEG2000Decoder.self, data, size)
}

@_cdecl("FuzzJPEG2000_main")
public func fuzzJPEG2000Main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    Fuzz.main(argc, argv, fuzzJPEG2000)
}
