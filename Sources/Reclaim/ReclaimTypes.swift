import HostScan

/// What `POST /api/v1/reclaim` (and the command line's local mode) asks for (API-HOST.md "Reclaim").
public struct ReclaimRequest: Sendable, Equatable {
    /// The kinds reclaim can act on: POSIX objects and System V segments (semaphores never).
    public enum Kind: String, Sendable, CaseIterable { case shm, sysv }
    public enum Mode: String, Sendable, CaseIterable {
        /// Keep the object in its mount's quarantine directory until the TTL (restorable).
        case quarantine
        /// Purge it at once.
        case delete
    }

    /// True (the default): nothing changes, the candidates are reported.
    public var dryRun: Bool
    /// Idle time an object needs (seconds); nil: the server's grace period.
    public var olderThan: Double?
    public var kinds: Set<Kind>
    /// The POSIX mounts to look at; nil: every mount. System V is not restricted by it.
    public var mounts: Set<DeviceID>?
    /// fnmatch(3) globs of names (System V: the key as `0x%08x`) never touched.
    public var exclude: [String]
    public var mode: Mode

    public init(
        dryRun: Bool = true, olderThan: Double? = nil, kinds: Set<Kind> = [.shm], mounts: Set<DeviceID>? = nil,
        exclude: [String] = [], mode: Mode = .quarantine
    ) {
        self.dryRun = dryRun
        self.olderThan = olderThan
        self.kinds = kinds
        self.mounts = mounts
        self.exclude = exclude
        self.mode = mode
    }
}

/// An object reclaim found (or reclaimed), with the evidence that it is an orphan.
public struct ReclaimCandidate: Sendable, Equatable {
    public var kind: ReclaimRequest.Kind
    public var href: String
    /// The POSIX object's mount; nil for System V.
    public var mount: DeviceID?
    /// The object's name; for System V its key as `0x%08x`.
    public var name: String
    /// Memory in use: `st_blocks × 512`, for System V rss + swap.
    public var bytes: Int64
    public var idleSeconds: Double
    /// Processes other than the server holding, mapping or locking it (0 for a candidate).
    public var holders: Int
    public var mappers: Int
    public var lockHolders: Int
    /// System V's attach count; nil for POSIX objects.
    public var nattch: Int64?
    /// Identity: device and inode (POSIX), namespace and shmid (System V).
    public var object: ObjectID?
    public var segment: SysVID?
    /// Once reclaimed in quarantine mode: its quarantine id.
    public var quarantineID: String?
}

/// Why a candidate was left alone.
public enum SkipReason: String, Sendable, CaseIterable {
    /// Its name (or key) matches an `exclude` glob.
    case excluded
    /// The re-check found a process holding, mapping or locking it.
    case inUse = "in-use"
    /// The re-check found it changed within `olderThan` (or while it was being moved).
    case modified
    /// Its name is gone or names another object now.
    case gone
    /// A process opened it by name while it was being moved: it is back under its name.
    case reopened
    /// As `reopened`, but meanwhile another object took its name: it stays in quarantine.
    case reopenedNameTaken = "reopened-name-taken"
    /// A System V segment attached again (`nattch` > 0) at the re-check.
    case attached
    /// A system call failed (the detail says which); the object was left as it was.
    case failed
}

public struct ReclaimSkip: Sendable, Equatable {
    public var href: String
    public var reason: SkipReason
    public var detail: String?
    /// The quarantine id when the object stays in quarantine (`reopened-name-taken`).
    public var quarantineID: String?
}

/// `POST /api/v1/reclaim`'s answer.
public struct ReclaimReport: Sendable {
    public var dryRun: Bool
    public var candidates: [ReclaimCandidate]
    public var reclaimed: [ReclaimCandidate]
    public var skipped: [ReclaimSkip]
    public var reclaimedBytes: Int64 { reclaimed.reduce(0) { $0 + $1.bytes } }
}

/// One object in quarantine (`GET /api/v1/quarantine`).
public struct QuarantineItem: Sendable, Equatable {
    public var id: String
    public var name: String
    public var mount: DeviceID
    public var kind: String
    public var bytes: Int64
    /// Seconds since the epoch.
    public var quarantinedAt: Double
    public var purgeAt: Double
    public var inode: UInt64
}

/// What happened to a quarantined object, for events and metrics.
public enum QuarantineChange: Sendable {
    case quarantined(QuarantineItem)
    case restored(QuarantineItem)
    /// Purged from quarantine, or deleted at once (`mode: delete`, System V): the item's bytes are freed.
    case purged(kind: String, name: String, mount: DeviceID?, bytes: Int64, id: String?)
    /// Said just before `name` is renamed into or out of `mount`'s quarantine: the server notes it
    /// as its own change of its own directory (the inotify echo is not reported again).
    case renaming(mount: DeviceID, name: String)
}

public enum QuarantineError: Error, Sendable, Equatable {
    /// No quarantined object has this id.
    case notFound(String)
    /// Another object took the name meanwhile (restore).
    case nameTaken(String)
    /// The object (or its mount) is gone; its record was dropped.
    case gone(String)
    /// A system call or the state directory failed.
    case failed(String)
}
