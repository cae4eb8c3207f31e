import CShmLinux
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// The read-only calls of a pass over /proc, each through the system-call seam. Failures are
/// answers here (nil, empty): a process that exits mid-scan, or that the server may not inspect,
/// is skipped quietly.
enum ProcFiles {
    /// The entries of the directory at `path` (not `.` and `..`): opendir(3), readdir(3).
    static func entries(_ path: String) -> [String] {
        guard let stream = try? syscall(.opendir, failure: nil, { opendir(path) }) else { return [] }
        defer { closedir(stream) }
        var result: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let bytes = raw.bindMemory(to: UInt8.self)
                let length = bytes.firstIndex(of: 0) ?? bytes.count
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<length]), as: UTF8.self)
            }
            if name != "." && name != ".." { result.append(name) }
        }
        return result
    }

    /// The regular files of the directory at `path` with their status, links not followed: one
    /// opendir(3), readdir(3) and an fstatat(2) relative to the open directory per entry (the
    /// directory's own path, `/proc/PID/root/dev/shm` for another namespace's mount, is walked
    /// once, not once per entry). Entries the directory says are not regular files are not stat'ed.
    static func regularFiles(_ path: String) -> [(name: String, status: stat)] {
        guard let stream = try? syscall(.opendir, failure: nil, { opendir(path) }) else { return [] }
        defer { closedir(stream) }
        let directory = dirfd(stream)
        var result: [(name: String, status: stat)] = []
        while let entry = readdir(stream) {
            let type = entry.pointee.d_type
            guard type == UInt8(DT_REG) || type == UInt8(DT_UNKNOWN) else { continue }
            var info = stat()
            let found = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String? in
                let bytes = raw.bindMemory(to: CChar.self)
                guard
                    (try? syscall(.fstatat, { fstatat(directory, bytes.baseAddress!, &info, AT_SYMLINK_NOFOLLOW) }))
                        != nil
                else { return nil }
                let length = raw.firstIndex(of: 0) ?? raw.count
                return String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<length]), as: UTF8.self)
            }
            if let name = found, (info.st_mode & S_IFMT) == S_IFREG { result.append((name, info)) }
        }
        return result
    }

    /// Where the symbolic link at `path` points (a /proc/PID/fd or ns entry): readlink(2).
    static func linkTarget(_ path: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBufferPointer { bytes in
            try? syscall(.readlink) {
                readlink(path, UnsafeMutableRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self), 4096)
            }
        }
        guard let count, count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// `path` made absolute with every link and `..` resolved, as the kernel writes it in
    /// /proc/PID/fd links: realpath(3).
    static func canonical(_ path: String) -> String? {
        guard let resolved = try? syscall(.realpath, failure: nil, { realpath(path, nil) }) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The status of what `path` leads to, links followed: stat(2).
    static func status(_ path: String) -> stat? {
        var info = stat()
        guard (try? syscall(.stat, { stat(path, &info) })) != nil else { return nil }
        return info
    }

    /// The file system holding `path`: statvfs(3).
    static func fileSystem(_ path: String) -> statvfs? {
        var info = statvfs()
        guard (try? syscall(.statvfs, { statvfs(path, &info) })) != nil else { return nil }
        return info
    }

    /// A whole small file (a /proc entry) as text; nil when it cannot be read.
    static func text(_ path: String, limit: Int = 16 << 20) -> String? {
        let reader = FileReader(capacity: 4096)
        return withExtendedLifetime(reader) {
            reader.read(path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
        }
    }
}

/// Reads whole files in turn into one buffer that grows as needed: a pass reads thousands of maps
/// files, one buffer serves all of them. Not thread-safe: one reader per pass.
final class FileReader {
    private var storage: UnsafeMutableRawBufferPointer

    init(capacity: Int = 64 << 10) { storage = .allocate(byteCount: capacity, alignment: 16) }

    deinit { storage.deallocate() }

    /// The bytes of `path` (at most `limit`), valid until the next call; nil when it cannot be
    /// opened or read: open(2), read(2).
    func read(_ path: String, limit: Int = 16 << 20) -> UnsafeRawBufferPointer? {
        guard let descriptor = try? syscall(.open, { open(path, O_RDONLY | O_CLOEXEC) }) else { return nil }
        defer { close(descriptor) }
        var count = 0
        while count < limit {
            if count == storage.count {
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: storage.count * 2, alignment: 16)
                larger.copyMemory(from: UnsafeRawBufferPointer(storage))
                storage.deallocate()
                storage = larger
            }
            let window = UnsafeMutableRawBufferPointer(rebasing: storage[count..<min(storage.count, limit)])
            guard let result = try? syscall(.read, { Glibc.read(descriptor, window.baseAddress, window.count) }) else {
                if count == 0 { return nil }
                break
            }
            if result == 0 { break }
            count += result
        }
        return UnsafeRawBufferPointer(rebasing: storage[0..<count])
    }
}

/// Seconds from an arbitrary origin, never going back: clock_gettime(2) CLOCK_MONOTONIC.
func monotonicNow() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// The calling thread's CPU time (user and system), in seconds: clock_gettime(2) CLOCK_THREAD_CPUTIME_ID.
func threadCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Seconds since the epoch: clock_gettime(2) CLOCK_REALTIME.
func wallClockNow() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

extension ProcFiles {
    /// The status of `path` itself, a link not followed: fstatat(2) with AT_SYMLINK_NOFOLLOW.
    static func linkStatus(_ path: String) -> stat? {
        var info = stat()
        guard (try? syscall(.fstatat, { fstatat(AT_FDCWD, path, &info, AT_SYMLINK_NOFOLLOW) })) != nil else {
            return nil
        }
        return info
    }
}
