import Dispatch
import Synchronization
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// Locks on a section: the whole-object OFD record lock, the same one `fcntl.lockf` takes in
/// another process. Each lease has its own open file description, so leases conflict with each
/// other exactly as different processes would, and end at their TTL on their own.
final class LeaseTable: Sendable {
    private struct Lease: Sendable {
        var info: LeaseInfo
        var descriptor: OwnedDescriptor
    }

    private let leases = Mutex<[String: Lease]>([:])
    private let counter = AtomicCounter()
    private let onExpire: @Sendable (LeaseInfo) -> Void

    init(onExpire: @escaping @Sendable (LeaseInfo) -> Void) { self.onExpire = onExpire }

    /// Takes the lock on `descriptor` within `timeout` seconds, polling the non-blocking call
    /// with a short backoff; throws `.lockTimeout` when it is not had in time.
    static func acquire(
        _ descriptor: OwnedDescriptor, mode: LockMode, timeout: Double, section: String
    ) throws(SectionError) {
        let deadline = monotonicNow() + max(0, timeout)
        var pause = 0.001
        while true {
            let locked = try performing("lock", on: section) { () throws(SystemCallError) in
                try descriptor.tryLock(exclusive: mode == .exclusive)
            }
            if locked { return }
            let now = monotonicNow()
            if now >= deadline {
                throw SectionError(
                    .lockTimeout(holders: []),
                    "the \(mode.rawValue) lock of section '\(section)' was not acquired within \(Int(timeout * 1000)) ms",
                    section: section)
            }
            sleepSeconds(min(pause, deadline - now))
            pause = min(pause * 2, 0.02)
        }
    }

    func add(section: String, mode: LockMode, ttl: Double, descriptor: OwnedDescriptor) -> LeaseInfo {
        let random = UInt64.random(in: 0...UInt64.max)
        let id = "l\(counter.next())-" + String(random & 0xffff_ffff, radix: 16)
        let info = LeaseInfo(id: id, section: section, mode: mode, expiresAt: wallClockNow() + ttl)
        leases.withLock { $0[id] = Lease(info: info, descriptor: descriptor) }
        DispatchQueue.global().asyncAfter(deadline: .now() + ttl) { [weak self] in
            guard let self, let expired = self.take(id, section: nil) else { return }
            self.onExpire(expired)
        }
        return info
    }

    /// Removes a lease (closing its descriptor releases the lock); nil when there is none.
    func take(_ id: String, section: String?) -> LeaseInfo? {
        let lease: Lease? = leases.withLock { table in
            guard let lease = table[id], section == nil || lease.info.section == section else { return nil }
            table[id] = nil
            return lease
        }
        return lease?.info
    }

    func leases(of section: String) -> [LeaseInfo] {
        leases.withLock { table in table.values.map(\.info).filter { $0.section == section } }.sorted { $0.id < $1.id }
    }

    func removeAll(of section: String) -> [LeaseInfo] {
        leases.withLock { table in
            let matching = table.values.filter { $0.info.section == section }
            for lease in matching { table[lease.info.id] = nil }
            return matching.map(\.info)
        }
    }
}
