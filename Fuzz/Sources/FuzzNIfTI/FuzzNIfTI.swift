import FuzzSupport
import MedVoxCore
import MedVoxIO

/// File bytes -> NIfTIFile.open (plain, or gzip when the bytes start with the gzip magic)
/// -> raw data and the scaled Volume.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNIfTI(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.start()
    let b = UnsafeBufferPointer(start: data, count: size)
    let gz = size >= 2 && b[0] == 0x1f && b[1] == 0x8b
    let path = Fuzz.file(b, suffix: gz ? ".nii.gz" : ".nii")
    Fuzz.expectCleanly {
        let f = try NIfTIFile.open(path)
        _ = try f.volume()
    }
    return 0
}

@_cdecl("FuzzNIfTI_main")
public func fuzzNIfTIMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    Fuzz.main(argc, argv, fuzzNIfTI)
}
