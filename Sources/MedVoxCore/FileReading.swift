import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// File reading helpers with typed errors (`FileError.cannotRead`), for the libraries.

/// The bytes of a file (a typed error when it cannot be read).
public func readWholeFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw FileError.cannotRead(path: path, reason: "is a folder") }
    let size = Int(st.st_size)
    var out = [UInt8](repeating: 0, count: size)
    var have = 0
    try out.withUnsafeMutableBytes { o in
        while have < size {
            let n = Glibc.read(fd, o.baseAddress! + have, size - have)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            have += n
        }
    }
    out.removeSubrange(have...)
    return out
}

/// The size in bytes of the file at `path` (a typed error when it cannot be examined).
public func fileSize(_ path: String) throws -> Int {
    var st = stat()
    guard stat(path, &st) == 0 else {
        throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno)))
    }
    return Int(st.st_size)
}
