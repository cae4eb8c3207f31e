import CShmLinux
import SystemPackage
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// Opens `path`, close-on-exec: open(2).
func openFile(_ path: String, flags: Int32, mode: mode_t = 0) throws(SystemCallError) -> OwnedDescriptor {
    OwnedDescriptor(FileDescriptor(rawValue: try syscall(.open) { open(path, flags | O_CLOEXEC, mode) }))
}

/// mkdir(2); an existing directory is no error.
func createDirectory(_ path: String, mode: mode_t) throws(SystemCallError) {
    do throws(SystemCallError) {
        try syscall(.mkdir) { mkdir(path, mode) }
    } catch  where error.errno == .fileExists {}
}

/// rename(2).
func renameFile(_ from: String, to: String) throws(SystemCallError) {
    try syscall(.rename) { rename(from, to) }
}

/// unlink(2).
func removeFile(_ path: String) throws(SystemCallError) {
    try syscall(.unlink) { unlink(path) }
}

/// The entries of the directory at `path` (not `.` and `..`), with their d_type.
func directoryEntries(_ path: String) throws(SystemCallError) -> [(name: String, type: UInt8)] {
    let raw = try syscall(.open) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    return try listDirectory(adopting: FileDescriptor(rawValue: raw))
}

/// Reads the entries of an open directory, taking the descriptor (closed when done, also on
/// failure): fdopendir(3), readdir(3).
func listDirectory(adopting descriptor: FileDescriptor) throws(SystemCallError) -> [(name: String, type: UInt8)] {
    let stream: OpaquePointer?
    do throws(SystemCallError) {
        stream = try syscall(.opendir, failure: nil) { fdopendir(descriptor.rawValue) }
    } catch {
        try? descriptor.close()
        throw error
    }
    guard let stream else { throw SystemCallError(.opendir, .badFileDescriptor) }
    defer { closedir(stream) }
    var result: [(name: String, type: UInt8)] = []
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let length = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<length]), as: UTF8.self)
        }
        if name == "." || name == ".." { continue }
        result.append((name, entry.pointee.d_type))
    }
    return result
}

/// Whether a process with this pid exists (signal 0, kill(2)); true when unsure (EPERM: it exists).
func processExists(_ pid: Int32) -> Bool {
    do throws(SystemCallError) {
        try syscall(.kill) { kill(pid, 0) }
        return true
    } catch {
        return error.errno != .noSuchProcess
    }
}

/// A whole small file (a /proc entry) as bytes, at most `limit`; nil when it cannot be read.
func readSmallFile(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
    let reader = WholeFileReader(capacity: 4096, limit: limit)
    return reader.read(path).map { Array($0) }
}

/// Reads whole files in turn into one buffer that grows as needed: a /proc scan reads a hundred
/// maps files, one buffer for all of them. Not thread-safe: one reader per scan.
final class WholeFileReader {
    private var storage: UnsafeMutableRawBufferPointer
    private let limit: Int

    init(capacity: Int = 256 << 10, limit: Int = 16 << 20) {
        storage = .allocate(byteCount: capacity, alignment: 16)
        self.limit = limit
    }

    deinit { storage.deallocate() }

    /// The bytes of `path` (at most `limit`), valid until the next call; nil when it cannot be
    /// opened or nothing could be read.
    func read(_ path: String) -> UnsafeRawBufferPointer? {
        guard let file = try? openFile(path, flags: O_RDONLY) else { return nil }
        var count = 0
        while count < limit {
            if count == storage.count {
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: storage.count * 2, alignment: 16)
                larger.copyMemory(from: UnsafeRawBufferPointer(storage))
                storage.deallocate()
                storage = larger
            }
            let window = UnsafeMutableRawBufferPointer(rebasing: storage[count..<min(storage.count, limit)])
            guard
                let result = try? syscall(
                    .read, { Glibc.read(file.descriptor.rawValue, window.baseAddress, window.count) })
            else {
                if count == 0 { return nil }
                break
            }
            if result == 0 { break }
            count += result
        }
        return UnsafeRawBufferPointer(rebasing: storage[0..<count])
    }
}

/// An inotify descriptor (non-blocking) watching `path` for entries created, deleted, modified,
/// renamed and their attributes: inotify_init1(2), inotify_add_watch(2).
func watchDirectory(_ path: String) throws(SystemCallError) -> OwnedDescriptor {
    OwnedDescriptor(FileDescriptor(rawValue: try syscall(.inotifyAddWatch) { cshm_watch_directory(path) }))
}

/// A pipe, both ends close-on-exec: pipe(2).
func makePipe() throws(SystemCallError) -> (read: OwnedDescriptor, write: OwnedDescriptor) {
    var ends: [Int32] = [0, 0]
    try syscall(.pipe) { pipe(&ends) }
    for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    return (OwnedDescriptor(FileDescriptor(rawValue: ends[0])), OwnedDescriptor(FileDescriptor(rawValue: ends[1])))
}

/// Waits at most `timeout` seconds for input on `first` or `second`: whether each has some (poll(2)).
func waitForInput(_ first: OwnedDescriptor, _ second: OwnedDescriptor, timeout: Double) -> (Bool, Bool) {
    var polls = [
        pollfd(fd: first.descriptor.rawValue, events: Int16(POLLIN), revents: 0),
        pollfd(fd: second.descriptor.rawValue, events: Int16(POLLIN), revents: 0),
    ]
    guard poll(&polls, 2, Int32(timeout * 1000)) > 0 else { return (false, false) }
    return (polls[0].revents != 0, polls[1].revents != 0)
}

extension OwnedDescriptor {
    /// Reads at most `buffer.count` bytes at the current position: read(2).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        try syscall(.read) { Glibc.read(descriptor.rawValue, buffer.baseAddress, buffer.count) }
    }
}

/// The status of what `path` leads to, links followed (a /proc/PID/fd entry's file): stat(2).
func fileStatus(_ path: String) throws(SystemCallError) -> stat {
    var info = stat()
    try syscall(.stat) { stat(path, &info) }
    return info
}
