import FuzzSupport
import MedVoxCore
import MedVoxIO

/// One encapsulated frame -> RLEDecoder. The first 4 bytes choose the frame description (size, bits,
/// samples, sign, planar configuration) so that the decoder's checks against it are fuzzed too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRLE(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.start()
    guard size >= 4 else { return 0 }
    let b = UnsafeBufferPointer(start: data, count: size)
    let info = FuzzFrame.info(b[0], b[1], b[2], b[3])
    Fuzz.expectCleanly {
        let out = try RLEDecoder.decode(Array(b[4...]), info: info)
        precondition(out.bytes.count == info.decodedByteCount, "decoded \(out.bytes.count) bytes, expected \(info.decodedByteCount)")
    }
    return 0
}

@_cdecl("FuzzRLE_main")
public func fuzzRLEMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    Fuzz.main(argc, argv, fuzzRLE)
}
