import Foundation
import MedVoxCore

#if canImport(Glibc)
    import Glibc
#endif

/// Shared plumbing for the fuzz targets: a memory cap for the readers, a scratch file for
/// readers that take a path, and a check that every thrown error is a MedVoxError.
public enum Fuzz {
    /// The readers' own allocation limit (`--max-memory`) while fuzzing; libFuzzer's
    /// -malloc_limit_mb (set by run_all.sh above this) catches anything that ignores it.
    public static let memoryCap = 256 << 20

    nonisolated(unsafe) static var started = false
    nonisolated(unsafe) static var scratch = ""

    /// Call first in every LLVMFuzzerTestOneInput.
    public static func start() {
        guard !started else { return }
        started = true
        Runtime.maxMemory = memoryCap
        Runtime.threads = 1
        let dir = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        scratch = "\(dir)/medvox-fuzz-\(getpid())"
    }

    /// Writes `bytes` to this process's scratch file (with `suffix`) and returns its path.
    public static func file(_ bytes: UnsafeBufferPointer<UInt8>, suffix: String) -> String {
        let path = scratch + suffix
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot create \(path)")
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            precondition(n > 0, "cannot write \(path)")
            off += n
        }
        close(fd)
        return path
    }

    /// Runs `body`; a thrown error must be a MedVoxError (a clean, typed refusal). Anything
    /// else is a bug and aborts so that libFuzzer records the input.
    public static func expectCleanly(_ body: () throws -> Void) {
        do { try body() } catch let e as MedVoxError {
            _ = e.description
        } catch {
            fatalError("untyped error: \(type(of: error)): \(error)")
        }
    }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

extension Fuzz {
    /// SwiftPM links an executable's entry point as `<Module>_main` (defsym main=...), which
    /// keeps libFuzzer's own main out; each target's `<Module>_main` calls this instead.
    public static func main(
        _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    ) -> CInt {
        var c = argc
        var v: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
        return LLVMFuzzerRunDriver(&c, &v, callback)
    }
}
