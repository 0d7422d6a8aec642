import FuzzSupport
import MedVoxCore
import MedVoxIO

/// One encapsulated frame -> JPEGLosslessDecoder. The first 4 bytes choose the frame description (size, bits,
/// samples, sign, planar configuration) so that the decoder's checks against it are fuzzed too
/// (FuzzFrame.decode).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEGLossless(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzFrame.decode(JPEGLosslessDecoder.self, data, size)
}

@_cdecl("FuzzJPEGLossless_main")
public func fuzzJPEGLosslessMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    Fuzz.main(argc, argv, fuzzJPEGLossless)
}
