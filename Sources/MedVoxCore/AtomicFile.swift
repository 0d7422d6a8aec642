import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a file atomically: the bytes go to a hidden temporary file in the destination's folder,
/// are flushed to disk (fsync), and the temporary file is renamed over the destination. A failure
/// at any point removes the temporary file, so no half-written output is ever left behind.
/// Missing folders on the way to the destination are created.
///
/// ```swift
/// try AtomicFile.write(to: "mask.nii.gz") { sink in try sink.write(bytes) }
/// ```
public enum AtomicFile {
    private struct FileID: Hashable {
        var device: UInt64
        var inode: UInt64
        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
        }
    }
    private static let lock = NSLock()
    nonisolated(unsafe) private static var protected: Set<FileID> = []

    /// Marks files as inputs of the current run: they are never written over, whatever path
    /// (relative, through a symbolic or hard link) names them. A folder protects every regular
    /// file below it (at most `limit` of them). Safe to call from several threads.
    public static func protect(_ paths: [String], limit: Int = 200_000) {
        var ids: [FileID] = []
        for path in paths {
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFREG {
                ids.append(FileID(st))
            } else if (st.st_mode & S_IFMT) == S_IFDIR,
                let walk = FileManager.default.enumerator(atPath: path)
            {
                var n = 0
                while let rel = walk.nextObject() as? String, n < limit {
                    var f = stat()
                    if stat("\(path)/\(rel)", &f) == 0 && (f.st_mode & S_IFMT) == S_IFREG {
                        ids.append(FileID(f))
                        n += 1
                    }
                }
            }
        }
        lock.lock()
        protected.formUnion(ids)
        lock.unlock()
    }

    /// Whether writing `path` would replace a protected input.
    public static func isProtected(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        lock.lock()
        defer { lock.unlock() }
        return protected.contains(FileID(st))
    }

    /// Opens a temporary file beside `path`, hands a sink to `body`, then fsyncs and renames.
    public static func write(to path: String, _ body: (FileSink) throws -> Void) throws {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        if isProtected(url.path) { throw FileError.wouldOverwriteInput(path: path) }
        let dir = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        // A missing output folder is made (as `mkdir -p`); a file in the way is an error below.
        if !FileManager.default.fileExists(atPath: dir) {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        var template = Array("\(dir)/.\(name).tmp-\(hostTag)-\(getpid())-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FileError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        let tmpPath = template.withUnsafeBufferPointer { Swift.String(cString: $0.baseAddress!) }
        let sink = FileSink(fd: fd, path: path)
        do {
            try body(sink)
            try sink.flush()
            if fsync(fd) != 0 { throw FileError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
            fchmod(fd, 0o644)
            close(fd)
            sink.closed = true
            if rename(tmpPath, url.path) != 0 {
                throw FileError.cannotWrite(path: path, reason: String(cString: strerror(errno)))
            }
        } catch {
            if !sink.closed { close(fd) }
            unlink(tmpPath)
            throw error
        }
    }

    /// A short tag naming this host in temporary names (8 hex digits of its name's hash), so a
    /// later run can tell its own host's dead writers from live ones elsewhere on a shared disk.
    public static let hostTag: String = {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count - 1)
        let name = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var h: UInt32 = 2_166_136_261  // FNV-1a: stable across runs, unlike Hasher
        for b in name.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return String(format: "%08x", h)
    }()

    /// Removes the temporary files that killed writers left in `dir` (not below it): those of a
    /// process on this host that no longer exists, and any older than `maxAge` seconds (a writer
    /// on another host, or one from before names carried their process). Returns their names.
    @discardableResult
    public static func removeStaleTemporaries(in dir: String, maxAge: TimeInterval = 3600) -> [String] {
        let fm = FileManager.default
        var removed: [String] = []
        for name in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix(".") {
            guard let r = name.range(of: ".tmp-", options: .backwards) else { continue }
            let parts = name[r.upperBound...].split(separator: "-")
            var stale = false
            if parts.count == 3, parts[0] == hostTag, let pid = Int32(parts[1]) {
                stale = kill(pid, 0) != 0 && errno == ESRCH
            }
            if !stale, let attrs = try? fm.attributesOfItem(atPath: "\(dir)/\(name)"),
                let modified = attrs[.modificationDate] as? Date
            {
                stale = Date().timeIntervalSince(modified) > maxAge
            }
            if stale, unlink("\(dir)/\(name)") == 0 { removed.append(name) }
        }
        return removed
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { try $0.write(bytes) }
    }

    public static func write(_ string: String, to path: String) throws {
        try write(Array(string.utf8), to: path)
    }
}

/// A buffered, append-only writer over a file descriptor (used by `AtomicFile`).
public final class FileSink {
    let fd: Int32
    let path: String
    var buffer: [UInt8] = []
    var closed = false
    static let bufferSize = 1 << 20

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        buffer.reserveCapacity(Self.bufferSize)
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > Self.bufferSize { try flush() }
        if bytes.count >= Self.bufferSize {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.cannotWrite(path: path, reason: Swift.String(cString: strerror(errno)))
            }
            offset += n
        }
    }
}
