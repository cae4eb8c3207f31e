import CShmLinux
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// An object of the host opened read-only for a dump: a file of another mount, a memfd or an
/// unlinked object (through a process that keeps it). Reads are pread(2): an object truncated
/// meanwhile reads short, it never faults. The descriptor closes with this value.
public final class OpenedHostObject: Sendable {
    public let descriptor: Int32
    /// Its size when it was opened.
    public let size: Int64

    init(_ descriptor: Int32, size: Int64) {
        self.descriptor = descriptor
        self.size = size
    }

    deinit { close(descriptor) }

    /// At most `count` bytes at `offset`, fewer at the end of the object: pread(2).
    public func read(offset: Int64, count: Int) throws(SystemCallError) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        defer { buffer.deallocate() }
        var done = 0
        while done < count {
            let got = try syscall(.pread) {
                pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + Int64(done)))
            }
            if got == 0 { break }
            done += got
        }
        return Array(UnsafeRawBufferPointer(rebasing: buffer[0..<done]))
    }
}

extension OpenedHostObject {
    /// At most `count` bytes at `offset` into `buffer`; 0 at the end: one pread(2).
    public func read(offset: Int64, into buffer: UnsafeMutableRawBufferPointer, count: Int) throws(SystemCallError)
        -> Int
    {
        try syscall(.pread) { pread(descriptor, buffer.baseAddress, min(count, buffer.count), off_t(offset)) }
    }
}

extension OpenedHostObject {
    /// The extents of `[from, to)` (within the size): data where SEEK_DATA finds some, holes
    /// between; at most `maxRuns`, `truncated` when more follow: lseek(2) SEEK_DATA, SEEK_HOLE.
    public func extents(from: Int64, to: Int64, maxRuns: Int) throws(SystemCallError) -> (
        runs: [(offset: Int64, length: Int64, data: Bool)], truncated: Bool
    ) {
        var runs: [(offset: Int64, length: Int64, data: Bool)] = []
        let end = min(to, size)
        var at = max(0, from)
        while at < end {
            if runs.count == maxRuns { return (runs, true) }
            guard let data = try seek(.seekData, at), data < end else {
                runs.append((at, end - at, false))
                break
            }
            if data > at {
                runs.append((at, data - at, false))
                at = data
                continue
            }
            let hole = min(try seek(.seekHole, at) ?? end, end)
            runs.append((at, hole - at, true))
            at = hole
        }
        return (runs, false)
    }

    /// The next data (or hole) offset at or after `offset`; nil past the end (ENXIO).
    private func seek(_ call: SystemCall, _ offset: Int64) throws(SystemCallError) -> Int64? {
        do throws(SystemCallError) {
            return try syscall(call) {
                call == .seekData ? cshm_seek_data(descriptor, offset) : cshm_seek_hole(descriptor, offset)
            }
        } catch  where error.errno == .noSuchAddressOrDevice {
            return nil
        }
    }
}

/// Opening the objects a dump reads, each checked to be the object the caller saw (device and inode).
public enum ObjectReader {
    /// `name` of another mount, opened relative to the mount's directory: openat(2) O_NOFOLLOW.
    public static func open(_ name: String, in mount: ShmMount, inode: UInt64) -> OpenedHostObject? {
        guard !name.isEmpty, !name.contains("/"),
            let directory = try? syscall(
                .open, { Glibc.open(mount.reachedThrough, O_RDONLY | O_DIRECTORY | O_CLOEXEC) })
        else { return nil }
        defer { close(directory) }
        guard
            let descriptor = try? syscall(.openat, { openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) })
        else { return nil }
        return checked(descriptor, ObjectID(device: mount.device, inode: inode))
    }

    /// A memfd or unlinked object, through a holder's `/proc/PID/fd/N`, else a mapper's
    /// `/proc/PID/map_files/START-END` (CAP_SYS_ADMIN); nil once no process keeps it.
    public static func open(_ object: SeenObject, procDirectory: String) -> OpenedHostObject? {
        let paths =
            object.holders.map { procDirectory + "/\($0.pid)/fd/\($0.fd)" }
            + object.mappers.map {
                procDirectory + "/\($0.pid)/map_files/" + String($0.start, radix: 16) + "-" + String($0.end, radix: 16)
            }
        for path in paths {
            guard let descriptor = try? syscall(.open, { Glibc.open(path, O_RDONLY | O_CLOEXEC) }) else { continue }
            if let opened = checked(descriptor, object.id) { return opened }
        }
        return nil
    }

    /// The descriptor as an `OpenedHostObject` if it is the object `id` (closed otherwise): fstat(2).
    private static func checked(_ descriptor: Int32, _ id: ObjectID) -> OpenedHostObject? {
        var info = stat()
        guard (try? syscall(.fstat, { fstat(descriptor, &info) })) != nil,
            DeviceID(UInt64(info.st_dev)) == id.device, UInt64(info.st_ino) == id.inode,
            (info.st_mode & S_IFMT) == S_IFREG
        else {
            close(descriptor)
            return nil
        }
        return OpenedHostObject(descriptor, size: Int64(info.st_size))
    }

    /// `count` bytes at `offset` of System V segment `shmid` of IPC namespace `ipc`, copied from a
    /// read-only attachment that is detached before this returns: shmat(2) SHM_RDONLY, shmdt(2).
    /// Another namespace is entered by a thread made for it (`member` is a process in it). Nil when
    /// the segment or the namespace is gone.
    public static func readSegment(
        shmid: Int32, ipc: UInt64, own: UInt64?, member: Int32?, offset: Int64, count: Int, procDirectory: String
    ) throws(SystemCallError) -> [UInt8]? {
        let copy = { () -> Result<[UInt8]?, SystemCallError> in
            Result { () throws(SystemCallError) -> [UInt8]? in try copySegment(shmid, offset: offset, count: count) }
        }
        if ipc == own { return try copy().get() }
        guard let member, let outcome = IPCNamespaces.inside(ipc: ipc, pid: member, procDirectory: procDirectory, copy)
        else { return nil }
        return try outcome.get()
    }

    private static func copySegment(_ shmid: Int32, offset: Int64, count: Int) throws(SystemCallError) -> [UInt8]? {
        let address: UnsafeMutableRawPointer?
        do throws(SystemCallError) {
            address = try syscall(.shmat, failure: UnsafeMutableRawPointer(bitPattern: -1)) {
                shmat(shmid, nil, SHM_RDONLY)
            }
        } catch  where error.errno == .invalidArgument || error.errno == .identifierRemoved {
            return nil
        }
        guard let address else { return nil }
        defer { shmdt(address) }
        // The caller keeps offset + count within the size the scan saw; a System V segment never shrinks.
        return Array(UnsafeRawBufferPointer(start: address + Int(offset), count: count))
    }
}
