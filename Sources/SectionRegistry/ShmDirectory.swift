import CShmLinux
import SystemPackage
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// The shared-memory directory (`/dev/shm`): every object is opened relative to it with
/// `openat` and `O_NOFOLLOW`, so no name can reach outside it.
public final class ShmDirectory: Sendable {
    public let path: String
    let descriptor: OwnedDescriptor
    /// st_dev of the directory: objects inside it carry the same device.
    public let device: UInt64
    /// Whether its objects are gone after a power loss or a kernel crash (tmpfs, ramfs, hugetlbfs).
    public let isVolatile: Bool

    public init(path: String = "/dev/shm") throws(SectionError) {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        do throws(SystemCallError) {
            descriptor = try openFile(trimmed, flags: O_RDONLY | O_DIRECTORY)
            device = UInt64(try descriptor.status().st_dev)
        } catch {
            throw SectionError(
                error.errno == .noSuchFileOrDirectory ? .notFound : .system,
                "cannot open the shared-memory directory \(trimmed)", cause: error)
        }
        self.path = trimmed
        // Unknown counts as lasting: the records are then fsynced.
        self.isVolatile = descriptor.isOnVolatileFileSystem() == true
    }

    /// Opens an object relative to the directory, never following a symbolic link: openat(2).
    ///
    /// With O_NONBLOCK, an open fails with EWOULDBLOCK while a write lease on the object is being
    /// broken: a delete's sole-open probe (`isOpenByNobodyElse`) holds one for a moment. Such an open
    /// is tried again for up to about 100 ms before the error is the caller's.
    func open(
        _ name: SectionName, flags: Int32, mode: mode_t = 0, beforeClose: (@Sendable () -> Void)? = nil
    ) throws(SystemCallError) -> OwnedDescriptor {
        var attempts = 0
        while true {
            do throws(SystemCallError) {
                let raw = try syscall(.openat) {
                    openat(descriptor.descriptor.rawValue, name.value, flags | O_NOFOLLOW | O_CLOEXEC, mode)
                }
                return OwnedDescriptor(FileDescriptor(rawValue: raw), beforeClose: beforeClose)
            } catch  where error.errno == .resourceTemporarilyUnavailable && attempts < 100 {
                attempts += 1
                sleepSeconds(0.001)
            }
        }
    }

    /// The entry's status without following links; nil when it does not exist: fstatat(2).
    func status(of name: SectionName) throws(SystemCallError) -> stat? {
        var info = stat()
        do throws(SystemCallError) {
            try syscall(.fstatat) { fstatat(descriptor.descriptor.rawValue, name.value, &info, AT_SYMLINK_NOFOLLOW) }
            return info
        } catch  where error.errno == .noSuchFileOrDirectory {
            return nil
        }
    }

    /// unlinkat(2).
    func remove(_ name: SectionName) throws(SystemCallError) {
        try syscall(.unlinkat) { unlinkat(descriptor.descriptor.rawValue, name.value, 0) }
    }

    /// Gives `temporary` the name `name` only if that name is free (EEXIST otherwise):
    /// renameat2(2) with RENAME_NOREPLACE.
    func publish(_ temporary: SectionName, as name: SectionName) throws(SystemCallError) {
        try syscall(.renameat2) { cshm_rename_noreplace(descriptor.descriptor.rawValue, temporary.value, name.value) }
    }

    /// Names of the directory's entries (not `.` and `..`), with their d_type.
    func entries() throws(SystemCallError) -> [(name: String, type: UInt8)] {
        let raw = try syscall(.openat) {
            openat(descriptor.descriptor.rawValue, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        return try listDirectory(adopting: FileDescriptor(rawValue: raw))
    }

    /// The directory's modification time in nanoseconds: it changes whenever any process creates,
    /// removes or renames an entry. 0 when it cannot be read.
    public func entriesStamp() -> Int64 {
        guard let info = try? descriptor.status() else { return 0 }
        return Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }

    /// The filesystem's total, used and free bytes (statvfs(3)); zeros when it cannot be read.
    public func capacity() -> (size: Int64, used: Int64, free: Int64) {
        guard let info = try? descriptor.fileSystemStatus() else { return (0, 0, 0) }
        let block = Int64(info.f_frsize)
        let size = Int64(info.f_blocks) * block
        let free = Int64(info.f_bavail) * block
        return (size, size - Int64(info.f_bfree) * block, free)
    }
}
