import CShmLinux
import HostScan
import SystemSeam

import struct SystemPackage.Errno

#if canImport(Glibc)
    import Glibc
#endif

/// A shared-memory mount's root directory and its `.shm-admin-quarantine/`, each held open, so every
/// step acts relative to the same two directories (a container's root reached through
/// `/proc/PID/root` stays the same mount even if that process exits meanwhile).
final class MountDirectory {
    static let quarantineName = ".shm-admin-quarantine"

    let device: DeviceID
    let path: String
    let root: Int32
    private(set) var quarantine: Int32 = -1

    /// Opens the mount's root; nil when it cannot be reached or is not `device` any more.
    init?(_ mount: ShmMount) {
        let root = open(mount.reachedThrough, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { return nil }
        var info = stat()
        guard fstat(root, &info) == 0, DeviceID(UInt64(info.st_dev)) == mount.device else {
            close(root)
            return nil
        }
        self.root = root
        self.device = mount.device
        self.path = mount.reachedThrough
    }

    deinit {
        close(root)
        if quarantine >= 0 { close(quarantine) }
    }

    /// Opens (with `create`, first makes, mode 0700) the quarantine directory: a real directory
    /// on the same device, never a link.
    func openQuarantine(create: Bool) throws(SystemCallError) -> Bool {
        if quarantine >= 0 { return true }
        if create {
            do throws(SystemCallError) {
                try syscall(.mkdir) { mkdirat(root, Self.quarantineName, 0o700) }
            } catch  where error.errno.rawValue == EEXIST {}
        }
        let directory: Int32
        do throws(SystemCallError) {
            directory = try syscall(.openat) {
                openat(root, Self.quarantineName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
        } catch  where error.errno.rawValue == ENOENT && !create {
            return false
        }
        var info = stat()
        guard fstat(directory, &info) == 0, DeviceID(UInt64(info.st_dev)) == device else {
            close(directory)
            throw SystemCallError(.openat, Errno(rawValue: EXDEV))
        }
        quarantine = directory
        return true
    }

    /// The status of `name` in the root (or the quarantine directory); nil when there is none.
    func status(_ name: String, inQuarantine: Bool = false) throws(SystemCallError) -> stat? {
        let directory = inQuarantine ? quarantine : root
        guard directory >= 0 else { return nil }
        var info = stat()
        do throws(SystemCallError) {
            try syscall(.fstatat) { fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) }
            return info
        } catch  where error.errno.rawValue == ENOENT {
            return nil
        }
    }

    /// Whether `name` (in the root or the quarantine) is the regular file with `inode`.
    func holds(_ name: String, inode: UInt64, inQuarantine: Bool = false) throws(SystemCallError) -> Bool {
        guard let info = try status(name, inQuarantine: inQuarantine) else { return false }
        return (info.st_mode & S_IFMT) == S_IFREG && UInt64(info.st_ino) == inode
    }

    /// renameat2(RENAME_NOREPLACE) of `name` into the quarantine as `id` (EEXIST if taken).
    func moveIn(_ name: String, as id: String) throws(SystemCallError) {
        try syscall(.renameat2) { cshm_rename_between(root, name, quarantine, id) }
    }

    /// renameat2(RENAME_NOREPLACE) of quarantined `id` back to `name` (EEXIST when the name was taken).
    func moveOut(_ id: String, as name: String) throws(SystemCallError) {
        try syscall(.renameat2) { cshm_rename_between(quarantine, id, root, name) }
    }

    /// Unlinks quarantined `id`.
    func purge(_ id: String) throws(SystemCallError) {
        try syscall(.unlinkat) { unlinkat(quarantine, id, 0) }
    }

    func pathOf(_ name: String, inQuarantine: Bool = false) -> String {
        inQuarantine ? path + "/" + Self.quarantineName + "/" + name : path + "/" + name
    }
}

/// Opens of objects while they are being moved, as inotify reports them (IN_OPEN, IN_MODIFY on
/// each object's inode): an open by name that had resolved the name just before the rename is seen
/// here even if the opener has not installed its descriptor yet when /proc is read.
final class OpenWatch {
    private let descriptor: Int32
    private var hits: Set<Int32> = []
    private var overflowed = false

    init?() {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if descriptor < 0 { return nil }
    }

    deinit { close(descriptor) }

    /// Watches the inode `path` names now; nil when it cannot.
    func watch(_ path: String, adding: Bool = false) -> Int32? {
        let mask = UInt32(IN_OPEN | IN_MODIFY) | (adding ? UInt32(IN_MASK_ADD) : 0)
        let wd = inotify_add_watch(descriptor, path, mask)
        return wd >= 0 ? wd : nil
    }

    /// Reads what arrived so far.
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            var offset = 0
            while offset + 16 <= count {
                let wd = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
                let mask = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) }
                let length = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) }
                if mask & UInt32(IN_Q_OVERFLOW) != 0 { overflowed = true }
                if mask & UInt32(IN_OPEN | IN_MODIFY) != 0 { hits.insert(wd) }
                offset += 16 + Int(length)
            }
        }
    }

    /// Whether the inode of `wd` was opened or written since it was watched (every one after an overflow).
    func wasOpened(_ wd: Int32) -> Bool { overflowed || hits.contains(wd) }
}
