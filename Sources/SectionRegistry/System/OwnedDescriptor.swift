import CShmLinux
import SystemPackage
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// An open file descriptor the registry owns: closed when the last reference goes. Each method is
/// one system call, named after it in its doc comment.
final class OwnedDescriptor: Sendable {
    let descriptor: FileDescriptor
    /// Runs just before the descriptor closes: closing an object open for writing makes an inotify
    /// IN_CLOSE_WRITE event, which the change feed must know for this process's own.
    private let beforeClose: (@Sendable () -> Void)?

    init(_ descriptor: FileDescriptor, beforeClose: (@Sendable () -> Void)? = nil) {
        self.descriptor = descriptor
        self.beforeClose = beforeClose
    }

    deinit {
        beforeClose?()
        try? descriptor.close()
    }

    private var raw: CInt { descriptor.rawValue }

    /// The object's status: fstat(2).
    func status() throws(SystemCallError) -> stat {
        var info = stat()
        try syscall(.fstat) { fstat(raw, &info) }
        return info
    }

    /// A new descriptor for the same open file, close-on-exec: fcntl(2) F_DUPFD_CLOEXEC.
    func duplicate() throws(SystemCallError) -> OwnedDescriptor {
        OwnedDescriptor(FileDescriptor(rawValue: try syscall(.duplicate) { fcntl(raw, F_DUPFD_CLOEXEC, 0) }))
    }

    /// Allocates `[offset, offset + length)`, growing the size if the range ends past it: fallocate(2).
    func allocate(offset: Int64, length: Int64) throws(SystemCallError) {
        try syscall(.fallocate) { cshm_fallocate(raw, offset, length) }
    }

    /// Discards the pages of a range, which then reads as zeros; the size stays:
    /// fallocate(2) with FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE.
    func punchHole(offset: Int64, length: Int64) throws(SystemCallError) {
        try syscall(.punchHole) { cshm_punch_hole(raw, offset, length) }
    }

    /// fchmod(2).
    func setPermissions(_ mode: mode_t) throws(SystemCallError) {
        try syscall(.fchmod) { fchmod(raw, mode) }
    }

    /// Reads at most `buffer.count` bytes at `offset`; 0 at the end: pread(2).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SystemCallError) -> Int {
        try syscall(.pread) { pread(raw, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// Writes at most `buffer.count` bytes at `offset`: pwrite(2).
    func write(_ buffer: UnsafeRawBufferPointer, at offset: Int64) throws(SystemCallError) -> Int {
        try syscall(.pwrite) { pwrite(raw, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// Writes at most `buffer.count` bytes at the current position: write(2).
    func write(_ buffer: UnsafeRawBufferPointer) throws(SystemCallError) -> Int {
        try syscall(.write) { Glibc.write(raw, buffer.baseAddress, buffer.count) }
    }

    /// Writes all of `bytes` at `offset`, call after call.
    func writeAll(_ bytes: [UInt8], at offset: Int64) throws(SystemCallError) {
        var done = 0
        while done < bytes.count {
            let start = done
            let outcome = bytes.withUnsafeBytes { buffer in
                Result { () throws(SystemCallError) in
                    try write(UnsafeRawBufferPointer(rebasing: buffer[start...]), at: offset + Int64(start))
                }
            }
            done += try outcome.get()
        }
    }

    /// fsync(2).
    func synchronize() throws(SystemCallError) {
        try syscall(.fsync) { fsync(raw) }
    }

    /// The first data offset at or after `offset`, nil when none follows (ENXIO): lseek(2) SEEK_DATA.
    func nextData(from offset: Int64) throws(SystemCallError) -> Int64? {
        do throws(SystemCallError) {
            return try syscall(.seekData) { cshm_seek_data(raw, offset) }
        } catch  where error.errno == .noSuchAddressOrDevice {
            return nil
        }
    }

    /// The first hole at or after `offset` (the end is one), nil when `offset` is past the end:
    /// lseek(2) SEEK_HOLE.
    func nextHole(from offset: Int64) throws(SystemCallError) -> Int64? {
        do throws(SystemCallError) {
            return try syscall(.seekHole) { cshm_seek_hole(raw, offset) }
        } catch  where error.errno == .noSuchAddressOrDevice {
            return nil
        }
    }

    /// Takes the whole-object OFD record lock without waiting; false when another holds a
    /// conflicting one: fcntl(2) F_OFD_SETLK.
    func tryLock(exclusive: Bool) throws(SystemCallError) -> Bool {
        do throws(SystemCallError) {
            try syscall(.lock) { cshm_ofd_lock(raw, exclusive ? 1 : 0, 0) }
            return true
        } catch  where error.errno == .resourceTemporarilyUnavailable || error.errno == .permissionDenied {
            return false
        }
    }

    /// Whether this is the only open file description of its file in any process, mappings
    /// included; nil when the kernel cannot tell (leases disabled, another owner's file):
    /// fcntl(2) F_SETLEASE, given back at once.
    func isSoleOpenFile() -> Bool? {
        let answer = try? syscall(.lease) { cshm_sole_open(raw) }
        return answer.map { $0 == 1 }
    }

    /// Whether the file system loses its files with the kernel (tmpfs, ramfs, hugetlbfs); nil when
    /// unknown: fstatfs(2).
    func isOnVolatileFileSystem() -> Bool? {
        let answer = try? syscall(.fstatfs) { cshm_volatile_file_system(raw) }
        return answer.map { $0 == 1 }
    }

    /// fstatvfs(3).
    func fileSystemStatus() throws(SystemCallError) -> statvfs {
        var info = statvfs()
        try syscall(.fstatvfs) { fstatvfs(raw, &info) }
        return info
    }

    /// Maps `length` bytes at `offset` shared: mmap(2).
    func map(length: Int, offset: Int64, writable: Bool) throws(SystemCallError) -> UnsafeMutableRawPointer {
        let protection = writable ? PROT_READ | PROT_WRITE : PROT_READ
        let base = try syscall(.mmap, failure: MAP_FAILED) {
            mmap(nil, length, protection, MAP_SHARED, raw, off_t(offset))
        }
        return base!
    }
}

/// A section's object opened for the caller to stream: the descriptor stays valid, and any lock
/// taken on it held, for as long as this value lives.
public final class OpenedObject: Sendable {
    let owned: OwnedDescriptor
    /// The object's size when it was opened.
    public let commit: Int64

    init(_ owned: OwnedDescriptor, commit: Int64) {
        self.owned = owned
        self.commit = commit
    }

    /// The descriptor, borrowed: duplicate it to keep it past this value's life.
    public var descriptor: FileDescriptor { owned.descriptor }
}
