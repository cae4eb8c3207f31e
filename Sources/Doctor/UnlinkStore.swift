import HostScan
import Synchronization

/// An object unlinked by someone while other processes mapped it (the `RemoveIPC` signature).
public struct UnlinkRecord: Sendable, Equatable {
    public var object: ObjectID
    public var name: String
    public var mount: DeviceID
    /// Seconds since the epoch.
    public var time: Double
    /// The unlinking process's uid, where the kernel tells.
    public var uid: UInt32?
    /// Processes still mapping it then.
    public var pids: [Int32]

    public init(object: ObjectID, name: String, mount: DeviceID, time: Double, uid: UInt32?, pids: [Int32]) {
        self.object = object
        self.name = name
        self.mount = mount
        self.time = time
        self.uid = uid
        self.pids = pids
    }
}

/// The recent unlinks of mapped objects, kept 24 h (and at most `limit`, the newest), for the
/// `deleted-while-mapped` check. Fed by whoever watches the mounts (inotify).
public final class UnlinkStore: Sendable {
    public static let keepSeconds = 24 * 3600.0
    public let limit: Int
    private let records = Mutex<[UnlinkRecord]>([])

    public init(limit: Int = 1000) { self.limit = limit }

    public func add(_ record: UnlinkRecord) {
        records.withLock { records in
            records.append(record)
            if records.count > limit { records.removeFirst(records.count - limit) }
        }
    }

    /// The records of the last 24 h before `now`, oldest first; older ones are forgotten.
    public func recent(now: Double) -> [UnlinkRecord] {
        records.withLock { records in
            records.removeAll { now - $0.time > Self.keepSeconds }
            return records
        }
    }
}
