import Foundation
import FuzzSupport
import MedVoxCore
import MedVoxTransforms

/// Bytes -> preprocessing and augmentation configs (JSON) and the --augment spec string, then
/// applied to a tiny volume so that decoded parameters are exercised too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigs(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.start()
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    let image = FuzzVolume.tiny
    Fuzz.expectCleanly {
        let p = try PreprocessPipeline.decode(bytes, source: "fuzz.json")
        _ = try p.apply(to: image)
    }
    Fuzz.expectCleanly {
        let a = try AugmentPipeline.decode(bytes, source: "fuzz.json")
        _ = try a.apply(to: Sample(image: image), seed: 1)
    }
    Fuzz.expectCleanly {
        let a = try AugmentPipeline.parse(spec: String(decoding: bytes, as: UTF8.self))
        _ = try a.apply(to: Sample(image: image), seed: 1)
    }
    return 0
}

@_cdecl("FuzzConfigs_main")
public func fuzzConfigsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    Fuzz.main(argc, argv, fuzzConfigs)
}
