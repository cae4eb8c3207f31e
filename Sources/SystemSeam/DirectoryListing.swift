#if canImport(Glibc)
    import Glibc
#endif

/// The regular files of a directory with their status, sorted by name, as one listing found them
/// with `fstatat`; `takenAt` is its start (monotonic seconds). The registry keeps its last listing
/// of the server's directory and the host's pass takes that mount from it.
public struct DirectoryListing: Sendable {
    public var takenAt: Double
    public var objects: [(name: String, status: stat)]

    public init(takenAt: Double, objects: [(name: String, status: stat)]) {
        self.takenAt = takenAt
        self.objects = objects
    }
}

/// A listing of the server's directory still being made: `wait()` returns it once it is done, or
/// nil when it ended without one or not within its bound (the caller then lists for itself).
public struct ListingUnderWay: Sendable {
    public let wait: @Sendable () -> DirectoryListing?

    public init(wait: @escaping @Sendable () -> DirectoryListing?) { self.wait = wait }
}
