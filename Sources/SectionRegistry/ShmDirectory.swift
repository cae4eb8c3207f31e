import CShmLinux

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
        let raw = try sys("open", section: nil, doing: "open the shared-memory directory \(trimmed) for") {
            Glibc.open(trimmed, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        self.descriptor = OwnedDescriptor(raw)
        self.path = trimmed
        self.device = UInt64(try descriptor.status(section: nil).st_dev)
        // Unknown (fstatfs failed) counts as lasting: the records are then fsynced.
        self.isVolatile = cshm_volatile_file_system(raw) == 1
    }

    /// openat(2) relative to the directory, never following a symbolic link.
    func open(
        _ name: SectionName, flags: Int32, mode: mode_t = 0, doing action: String,
        beforeClose: (@Sendable () -> Void)? = nil
    ) throws(SectionError) -> OwnedDescriptor {
        let raw = try sys("open", section: name.value, doing: action) {
            openat(descriptor.raw, name.value, flags | O_NOFOLLOW | O_CLOEXEC, mode)
        }
        return OwnedDescriptor(raw, beforeClose: beforeClose)
    }

    /// fstatat(2) without following links; nil when the entry does not exist.
    func status(of name: SectionName) throws(SectionError) -> stat? {
        var info = stat()
        if fstatat(descriptor.raw, name.value, &info, AT_SYMLINK_NOFOLLOW) == 0 { return info }
        if errno == ENOENT { return nil }
        throw SectionError.fromErrno(errno, call: "fstatat", section: name.value, doing: "inspect")
    }

    /// unlinkat(2).
    func remove(_ name: SectionName) throws(SectionError) {
        try sys("unlink", section: name.value, doing: "delete") { unlinkat(descriptor.raw, name.value, 0) }
    }

    /// Names of the directory's entries (not `.` and `..`), with their d_type.
    func entries() throws(SectionError) -> [(name: String, type: UInt8)] {
        let raw = try sys("openat", section: nil, doing: "list the shared-memory directory of") {
            openat(descriptor.raw, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        guard let dir = fdopendir(raw) else {
            close(raw)
            throw SectionError.fromErrno(errno, call: "fdopendir", section: nil, doing: "list")
        }
        defer { closedir(dir) }
        var result: [(name: String, type: UInt8)] = []
        while let entry = readdir(dir) {
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

    /// The directory's modification time in nanoseconds: it changes whenever any process creates,
    /// removes or renames an entry. 0 when it cannot be read.
    public func entriesStamp() -> Int64 {
        var info = stat()
        guard fstat(descriptor.raw, &info) == 0 else { return 0 }
        return Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }

    /// statvfs(3) of the filesystem: total, used and free bytes.
    public func capacity() -> (size: Int64, used: Int64, free: Int64) {
        var info = statvfs()
        guard fstatvfs(descriptor.raw, &info) == 0 else { return (0, 0, 0) }
        let block = Int64(info.f_frsize)
        let size = Int64(info.f_blocks) * block
        let free = Int64(info.f_bavail) * block
        return (size, size - Int64(info.f_bfree) * block, free)
    }
}
