import FuzzSupport
import MedVoxCore
import MedVoxIO

/// One encapsulated frame -> JPEGLSDecoder. The first 4 bytes choose the frame description (size, bits,
/// samples, sign, planar configuration) so that the decoder's checks against it are fuzzed too
/// (FuzzFrame.decode).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEGLS(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzFrame.decode(JPEGLSDecoder.self, data, size)
}

@_cdecl("FuzzJPEGLS_main")
public func fuzzJPEGLSMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    Fuzz.main(argc, argv, fuzzJPEGLS)
}
