import CShmLinux

#if canImport(Glibc)
    import Glibc
#endif

/// The one chokepoint through which the registry calls the kernel: runs `body`, retrying on
/// EINTR, and turns `-1`/errno into a `SectionError` naming the call and the section.
@discardableResult
func sys<T: BinaryInteger>(
    _ call: String, section: String?, doing action: String, retryOnInterrupt: Bool = true, _ body: () -> T
) throws(SectionError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR && retryOnInterrupt { continue }
        throw SectionError.fromErrno(code, call: call, section: section, doing: action)
    }
}

/// An open file descriptor the registry owns; closed when the last reference goes.
final class OwnedDescriptor: Sendable {
    let raw: Int32
    /// Runs just before the descriptor closes: closing an object open for writing makes an inotify
    /// IN_CLOSE_WRITE event, which the change feed must know for this process's own.
    private let beforeClose: (@Sendable () -> Void)?

    init(_ raw: Int32, beforeClose: (@Sendable () -> Void)? = nil) {
        self.raw = raw
        self.beforeClose = beforeClose
    }

    deinit {
        beforeClose?()
        close(raw)
    }

    /// fstat(2).
    func status(section: String?) throws(SectionError) -> stat {
        var info = stat()
        try sys("fstat", section: section, doing: "inspect") { fstat(raw, &info) }
        return info
    }

    /// A new descriptor for the same open file: for callers that take ownership (the HTTP server
    /// streaming a raw dump closes its own copy). dup(2) with close-on-exec.
    func duplicate(section: String?) throws(SectionError) -> Int32 {
        try sys("fcntl", section: section, doing: "duplicate a descriptor of") { fcntl(raw, F_DUPFD_CLOEXEC, 0) }
    }
}

/// Seconds since the epoch, as a Double, from the realtime clock.
func wallClockNow() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Seconds from an arbitrary origin, never going back: for timeouts and ages.
public func monotonicNow() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func sleepSeconds(_ seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}

/// The system page size.
let systemPageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))

/// Reads a whole small file (a /proc entry, a token, a certificate) as bytes; nil when it cannot be read.
public func readSmallFile(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while result.count < limit {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            return result.isEmpty ? nil : result
        }
        if count == 0 { break }
        result.append(contentsOf: chunk[0..<count])
    }
    return result
}

/// Reads whole files in turn into one buffer that grows as needed: a /proc scan reads a hundred
/// maps files, and `readSmallFile` would allocate and zero a 64 KiB chunk and build an array for
/// each. Not thread-safe: one reader per scan.
final class WholeFileReader {
    private var storage: UnsafeMutableRawBufferPointer
    private let limit: Int

    init(capacity: Int = 256 << 10, limit: Int = 16 << 20) {
        storage = .allocate(byteCount: capacity, alignment: 16)
        self.limit = limit
    }

    deinit { storage.deallocate() }

    /// The bytes of `path` (at most `limit`), valid until the next call; nil when it cannot be
    /// opened or nothing could be read (what `readSmallFile` does, without the copies).
    func read(_ path: String) -> UnsafeRawBufferPointer? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var count = 0
        while count < limit {
            if count == storage.count {
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: storage.count * 2, alignment: 16)
                larger.copyMemory(from: UnsafeRawBufferPointer(storage))
                storage.deallocate()
                storage = larger
            }
            let result = Glibc.read(fd, storage.baseAddress! + count, min(storage.count, limit) - count)
            if result < 0 {
                if errno == EINTR { continue }
                if count == 0 { return nil }
                break
            }
            if result == 0 { break }
            count += result
        }
        return UnsafeRawBufferPointer(rebasing: storage[0..<count])
    }
}
