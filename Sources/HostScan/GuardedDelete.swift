import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// The only two changes shm-admin makes outside its own directory (API-HOST.md): unlinking a file
/// of another mount and removing a System V segment. Each acts on exactly the object the caller
/// saw (device and inode, namespace and shmid); deciding whether it may (nobody maps or holds it,
/// or `force`) is the caller's, on a fresh snapshot. Nothing else of another namespace is mutated.
public enum GuardedDelete {
    /// Unlinks `name` from `mount`'s directory if it is still the file with `inode`: fstatat(2) then
    /// unlinkat(2) relative to one descriptor of the directory. False when the name is gone or now
    /// names another file.
    public static func unlink(_ name: String, in mount: ShmMount, inode: UInt64) throws(SystemCallError) -> Bool {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { return false }
        let directory = try syscall(.open) { open(mount.reachedThrough, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(directory) }
        var info = stat()
        do throws(SystemCallError) {
            try syscall(.fstatat) { fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) }
        } catch  where error.errno == .noSuchFileOrDirectory {
            return false
        }
        guard UInt64(info.st_ino) == inode, DeviceID(UInt64(info.st_dev)) == mount.device else { return false }
        try syscall(.unlinkat) { unlinkat(directory, name, 0) }
        return true
    }

    /// Removes segment `shmid` of IPC namespace `ipc`: shmctl(2) IPC_RMID, in that namespace. The
    /// server's own namespace is this thread's; another one is entered by a thread made for it
    /// through `/proc/PID/ns/ipc` of `member` (a process in it). False when the segment is gone or
    /// the namespace could not be entered.
    public static func removeSegment(
        shmid: Int32, ipc: UInt64, own: UInt64?, member: Int32?, procDirectory: String
    ) throws(SystemCallError) -> Bool {
        if ipc == own {
            return try remove(shmid)
        }
        guard let member else { return false }
        let outcome = IPCNamespaces.inside(ipc: ipc, pid: member, procDirectory: procDirectory) {
            Result { () throws(SystemCallError) in try remove(shmid) }
        }
        guard let outcome else { return false }
        return try outcome.get()
    }

    private static func remove(_ shmid: Int32) throws(SystemCallError) -> Bool {
        do throws(SystemCallError) {
            try syscall(.shmctlRemove) { shmctl(shmid, IPC_RMID, nil) }
            return true
        } catch  where error.errno == .invalidArgument || error.errno == .identifierRemoved {
            return false
        }
    }
}
