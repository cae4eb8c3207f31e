import HostScan
import SectionRegistry
import Synchronization
import SystemSeam

/// The registry's view of who maps, holds and locks its objects, taken from the host's one shared
/// pass instead of a walk of its own: the server walks /proc once a second at most, whether the
/// question is a section list, the inventory, the metrics or the doctor.
final class HostProcessView: ProcessView {
    let host: HostScanner
    let device: DeviceID
    /// The last host snapshot converted, by its `takenAt`: readers of one pass share one conversion.
    private let converted = Mutex<(takenAt: Double, view: ProcSnapshot)?>(nil)

    init(host: HostScanner, device: UInt64) {
        self.host = host
        self.device = DeviceID(device)
    }

    func snapshot() -> ProcSnapshot { view(of: host.snapshot()) }

    func cachedSnapshot() -> ProcSnapshot? { host.cachedSnapshot().map(view(of:)) }

    /// `snapshot` in the registry's words, converted once per pass.
    private func view(of snapshot: HostSnapshot) -> ProcSnapshot {
        if let last = converted.withLock({ $0 }), last.takenAt == snapshot.takenAt { return last.view }
        let view = Self.view(of: snapshot, device: device)
        converted.withLock { last in
            if last == nil || last!.takenAt < view.takenAt { last = (view.takenAt, view) }
        }
        return view
    }

    func invalidate() { host.invalidate() }

    /// The registry's last listing of its directory, for the host's pass (`HostScanner.takeOwnMount`):
    /// a section listing stats every object of the server's own mount just before the pass it starts.
    static func ownMount(of registry: SectionRegistry) -> @Sendable (Double) -> DirectoryListing? {
        { [weak registry] since in registry?.recentListing(since: since) }
    }

    /// The registry's listing of its directory under way, for the pass that listing started.
    static func ownMountUnderWay(of registry: SectionRegistry) -> @Sendable (Double) -> ListingUnderWay? {
        { [weak registry] since in registry?.listingUnderWay(since: since) }
    }

    /// The objects of one device, keyed by inode, as the registry words them: mappers other than
    /// the server, holders the server included, lock holders.
    static func view(of snapshot: HostSnapshot, device: DeviceID) -> ProcSnapshot {
        var view = ProcSnapshot()
        view.takenAt = snapshot.takenAt
        for (id, object) in snapshot.objects where id.device == device {
            let mappers = object.mappers.filter { $0.pid != snapshot.ownPid }.map { Mapper($0, snapshot) }
            if !mappers.isEmpty { view.mappers[id.inode] = mappers }
            if !object.holders.isEmpty { view.holders[id.inode] = object.holders.map { Holder($0, snapshot) } }
        }
        for (id, locks) in snapshot.locks where id.device == device {
            view.locks[id.inode] = locks.map {
                LockHolder(pid: $0.pid, mode: $0.exclusive ? .exclusive : .shared, type: $0.type)
            }
        }
        return view
    }
}

/// The host scan's mappings and descriptors in the registry's words, with the command the pass read.
extension Mapper {
    init(_ mapping: Mapping, _ snapshot: HostSnapshot) {
        self.init(
            pid: mapping.pid, command: snapshot.commands[mapping.pid] ?? "", start: mapping.start, end: mapping.end,
            offset: mapping.offset, access: mapping.writable ? .rw : .ro)
    }
}

extension Holder {
    init(_ holding: Holding, _ snapshot: HostSnapshot) {
        self.init(pid: holding.pid, command: snapshot.commands[holding.pid] ?? "", fd: holding.fd)
    }
}
