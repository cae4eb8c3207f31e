import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A byte range of an open file that a response streams without copying it through Swift: from 1 MiB
/// on, libmicrohttpd sends it from a read-only mapping (the kernel copies the pages into the socket);
/// below that, it reads it with pread into its send buffer. If the file shrinks under the response,
/// the connection is closed after the bytes that were there (send fails with EFAULT on the mapping,
/// pread comes up short): no SIGBUS, no stalled connection.
///
/// The region owns its descriptor and closes it when the last reference goes away. When the response
/// is sent, the server maps the range or gives libmicrohttpd a `dup` of the descriptor, so a region
/// stays valid however many times the response value is copied or sent.
/// The length is fixed when the response is created: bytes appended to the file later are not sent.
public final class FileRegion: Sendable {
    /// The owned descriptor.
    public let descriptor: Int32
    /// Where the region starts in the file, in bytes.
    public let offset: UInt64
    /// How many bytes the response sends.
    public let length: UInt64

    /// Takes ownership of `descriptor`: it is closed when the region is released.
    public init(adopting descriptor: Int32, offset: UInt64 = 0, length: UInt64) {
        self.descriptor = descriptor
        self.offset = offset
        self.length = length
    }

    /// Duplicates `descriptor` (which stays the caller's) and owns the copy.
    ///
    /// Throws `HTTPServerError` with the errno of `dup(2)` when the descriptor cannot be duplicated.
    public convenience init(duplicating descriptor: FileDescriptor, offset: UInt64 = 0, length: UInt64)
        throws(HTTPServerError)
    {
        let copy = fcntl(descriptor.rawValue, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw HTTPServerError(.system, "cannot duplicate file descriptor", call: "dup") }
        self.init(adopting: copy, offset: offset, length: length)
    }

    /// Opens the file at `path` read-only; the region covers the whole file, or `length` bytes
    /// from `offset`.
    public convenience init(path: String, offset: UInt64 = 0, length: UInt64? = nil) throws(HTTPServerError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HTTPServerError(.system, "cannot open \(path)", call: "open") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = HTTPServerError(.system, "cannot stat \(path)", call: "fstat")
            close(fd)
            throw error
        }
        let size = UInt64(max(0, info.st_size))
        let start = min(offset, size)
        self.init(adopting: fd, offset: start, length: min(length ?? size - start, size - start))
    }

    /// Whether every byte of the file has memory behind it (`st_blocks` cover `st_size`). Reading
    /// a hole of a tmpfs file through a mapping allocates a page for it, where pread returns zeros
    /// and allocates nothing: only a file without holes is sent from a mapping.
    public var isFullyAllocated: Bool {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return false }
        return Int64(info.st_blocks) * 512 >= Int64(info.st_size)
    }

    deinit {
        close(descriptor)
    }
}
