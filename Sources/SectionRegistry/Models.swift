/// Who may open a managed section: `local` (0600, the server's user) or `global` (0666, any user).
public enum Namespace: String, Sendable {
    case local, global

    public var mode: UInt32 { self == .local ? 0o600 : 0o666 }

    /// A foreign object's namespace, read from its mode.
    static func of(mode: UInt32) -> Namespace { mode & 0o066 != 0 ? .global : .local }
}

public enum SectionKind: String, Sendable { case shm, semaphore }

public enum SectionState: String, Sendable { case ok, missing }

public enum Access: String, Sendable { case ro, rw }

public enum LockMode: String, Sendable { case exclusive, shared }

/// A section as the API shows it: record and object metadata joined.
public struct SectionInfo: Sendable {
    public var name: String
    public var kind: SectionKind
    public var managed: Bool
    public var namespace: Namespace
    public var path: String
    public var state: SectionState
    /// The most the section may grow to; nil for a foreign section.
    public var reserve: Int64?
    /// The object's size.
    public var commit: Int64
    public var allocatedBytes: Int64
    public var dataBytes: Int64
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Seconds since the epoch.
    public var createdAt: Double
    public var modifiedAt: Double
    /// Views of this server.
    public var views: Int
    /// Other processes mapping it.
    public var mappers: Int
    /// No process but this one maps it or holds it open.
    public var orphan: Bool
    public var labels: [String: String]
    public var inode: UInt64
}

/// A mapping of the section in another process, from /proc/PID/maps.
public struct Mapper: Sendable, Equatable {
    public var pid: Int32
    public var command: String
    public var start: UInt64
    public var end: UInt64
    public var offset: Int64
    public var access: Access

    public init(pid: Int32, command: String, start: UInt64, end: UInt64, offset: Int64, access: Access) {
        self.pid = pid
        self.command = command
        self.start = start
        self.end = end
        self.offset = offset
        self.access = access
    }
}

/// A process holding the object open, from /proc/PID/fd.
public struct Holder: Sendable, Equatable {
    public var pid: Int32
    public var command: String
    public var fd: Int32

    public init(pid: Int32, command: String, fd: Int32) {
        self.pid = pid
        self.command = command
        self.fd = fd
    }
}

/// A record lock on the object, from /proc/locks (OFD locks attributed through /proc/PID/fdinfo).
public struct LockHolder: Sendable, Equatable {
    /// nil when the lock is an OFD lock no readable process holds.
    public var pid: Int32?
    public var mode: LockMode
    /// `OFDLCK`, `POSIX` or `FLOCK`.
    public var type: String

    public init(pid: Int32?, mode: LockMode, type: String) {
        self.pid = pid
        self.mode = mode
        self.type = type
    }
}

public struct LeaseInfo: Sendable {
    public var id: String
    public var section: String
    public var mode: LockMode
    /// Seconds since the epoch.
    public var expiresAt: Double
}

/// One of the server's own views.
public struct ViewInfo: Sendable {
    public var id: String
    public var section: String
    public var offset: Int64
    public var length: Int64
    public var access: Access
    public var address: UInt
}

public struct SectionDetail: Sendable {
    public var section: SectionInfo
    public var views: [ViewInfo]
    public var mappers: [Mapper]
    public var holders: [Holder]
    public var lockHolders: [LockHolder]
    public var leases: [LeaseInfo]
}

public enum PageState: String, Sendable { case data, committed, reserved }

public struct PageRun: Sendable, Equatable {
    public var offset: Int64
    public var length: Int64
    public var state: PageState

    public init(offset: Int64, length: Int64, state: PageState) {
        self.offset = offset
        self.length = length
        self.state = state
    }
}

public struct PageMap: Sendable {
    public var pageSize: Int64
    /// The reserve of a managed section; the commit of a foreign one.
    public var reserve: Int64
    public var commit: Int64
    public var allocatedBytes: Int64
    public var dataBytes: Int64
    public var runs: [PageRun]
    public var truncated: Bool

    /// A page map made elsewhere (the host's other mounts' objects).
    public init(
        pageSize: Int64, reserve: Int64, commit: Int64, allocatedBytes: Int64, dataBytes: Int64, runs: [PageRun],
        truncated: Bool
    ) {
        self.pageSize = pageSize
        self.reserve = reserve
        self.commit = commit
        self.allocatedBytes = allocatedBytes
        self.dataBytes = dataBytes
        self.runs = runs
        self.truncated = truncated
    }
}

public struct WriteResult: Sendable {
    public var offset: Int64
    public var written: Int64
    public var requested: Int64
}

public enum GrowTarget: Sendable {
    case commit(Int64)
    case by(Int64)
}

public struct CreateRequest: Sendable {
    public var name: SectionName?
    public var reserve: Int64
    public var commit: Int64?
    public var namespace: Namespace
    public var exclusive: Bool
    public var labels: [String: String]
    /// Who asked, for the record: e.g. "api 127.0.0.1".
    public var creator: String

    public init(
        name: SectionName?, reserve: Int64, commit: Int64? = nil, namespace: Namespace = .local,
        exclusive: Bool = false, labels: [String: String] = [:], creator: String = "api"
    ) {
        self.name = name
        self.reserve = reserve
        self.commit = commit
        self.namespace = namespace
        self.exclusive = exclusive
        self.labels = labels
        self.creator = creator
    }
}

public struct ListFilter: Sendable {
    public var managed: Bool?
    public var kind: SectionKind?
    public var orphan: Bool?
    public var query: String?
    public var limit: Int
    public var offset: Int

    public init(
        managed: Bool? = nil, kind: SectionKind? = nil, orphan: Bool? = nil, query: String? = nil,
        limit: Int = 1000, offset: Int = 0
    ) {
        self.managed = managed
        self.kind = kind
        self.orphan = orphan
        self.query = query
        self.limit = limit
        self.offset = offset
    }
}

public struct SystemInfo: Sendable {
    public var pageSize: Int64
    public var shmPath: String
    public var shmSize: Int64
    public var shmUsed: Int64
    public var shmFree: Int64
    public var shmmax: UInt64
    public var shmall: UInt64
    public var kernel: String
    public var counts: Counts

    public struct Counts: Sendable {
        public var sections = 0
        public var managed = 0
        public var foreign = 0
        public var orphan = 0
        public var semaphores = 0
        public var missing = 0
    }
}

/// A change to a section, made through the registry or seen in the directory.
public struct SectionEvent: Sendable {
    public enum Kind: String, Sendable {
        case created, deleted, grown, written, reset, adopted, modified
        case viewMapped = "view-mapped", viewUnmapped = "view-unmapped", viewMoved = "view-moved"
        case locked, unlocked, rescan
        /// A shared-memory mount appeared on the host or went (API-HOST.md: a container started or stopped).
        case mountAdded = "mount-added", mountRemoved = "mount-removed"
        /// A doctor finding appeared or changed severity (API-HOST.md "Events").
        case finding
        /// An object of the shm directory was unlinked by another process while others mapped it.
        case deletedWhileMapped = "deleted-while-mapped"
        /// Reclaim moved an object into quarantine, a restore put it back, a purge (or a reclaim in
        /// `delete` mode) freed it (API-HOST.md "Events").
        case quarantined, restored, purged
    }
    public enum Source: String, Sendable { case api, external }

    /// What an event tells beyond its kind and section.
    public enum Details: Sendable, Equatable {
        case none
        /// `created`: the new section's size and reserve.
        case created(commit: Int64, reserve: Int64)
        /// `grown`: the new size and the one before.
        case grown(commit: Int64, previous: Int64)
        /// `written`, `reset`: the bytes touched, as offsets in the section; `view` when written through one.
        case range(offset: Int64, length: Int64, view: String? = nil)
        /// `adopted`: the reserve it was given.
        case adopted(reserve: Int64)
        /// `view-mapped`, `view-unmapped`: which view.
        case view(id: String)
        /// `view-moved`: which view, and where it is now.
        case viewMoved(id: String, address: UInt)
        /// `locked`: the lease and its mode.
        case locked(lease: String, mode: LockMode)
        /// `unlocked`: the lease; `expired` when its time ran out instead of being released.
        case unlocked(lease: String, expired: Bool = false)
        /// `mount-added`, `mount-removed`: the mount's id (`MAJ:MIN`) and up to 16 processes of its namespaces.
        case mount(id: String, pids: [Int32])
        /// `finding`: the finding as JSON, already written.
        case finding(json: [UInt8])
        /// `deleted-while-mapped`: the unlinking process's uid when known, the processes still mapping it.
        case unlinkedWhileMapped(uid: UInt32?, pids: [Int32])
        /// `quarantined`, `restored`, `purged`: the object's kind, mount (`MAJ:MIN`, nil for System
        /// V), memory and quarantine id (nil when it never was in quarantine).
        case quarantine(kind: String, mount: String?, bytes: Int64, id: String?)
    }

    public var id: UInt64
    public var kind: Kind
    /// nil for `rescan`, `mount-added`, `mount-removed` and `finding`.
    public var section: String?
    public var source: Source
    /// Seconds since the epoch.
    public var time: Double
    public var details: Details
}

/// What the registry found when it started.
public struct StartupReport: Sendable {
    public var recovered: [String] = []
    public var missing: [String] = []
    /// Record files that could not be read, set aside under `corrupt/`.
    public var corrupt: [String] = []
    /// Half-done operations a crash left, finished or rolled back.
    public var repaired: [String] = []
}
