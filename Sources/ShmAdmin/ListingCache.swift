import HTTPServer
import SectionRegistry
import Synchronization

/// Rendered section listings, reused while nothing could have changed them: the registry's change
/// count unmoved (its own changes and other processes' through inotify), the same directory mtime
/// (creates, removes and renames by anyone, seen before inotify delivers them), and younger than
/// `maximumAge` (writes through another process's mapping make no event at all).
///
/// A listing re-reads every object's extents and re-renders its JSON; monitoring that polls it
/// from many hosts would otherwise pay that on every request.
final class ListingCache: Sendable {
    private struct Entry {
        var bytes: SharedBytes
        var builtAt: Double
        var generation: UInt64
        var stamp: Int64
    }

    static let maximumAge = SectionRegistry.listingMaximumAge
    static let maximumEntries = 64

    private let entries = Mutex<[String: Entry]>([:])
    private let registry: SectionRegistry

    init(registry: SectionRegistry) { self.registry = registry }

    /// The cached bytes for `key`, or `build()`'s, remembered for the next caller.
    /// Entries held (tests).
    var count: Int { entries.withLock { $0.count } }

    func bytes(for key: String, build: () throws -> SharedBytes) rethrows -> SharedBytes {
        let now = monotonicSeconds()
        let current = registry.changeCount
        let stamp = registry.directory.entriesStamp()
        if let hit = entries.withLock({ $0[key] }), hit.generation == current, hit.stamp == stamp,
            now - hit.builtAt < Self.maximumAge
        {
            return hit.bytes
        }
        let bytes = try build()
        entries.withLock { table in
            // An entry past `maximumAge` can never be served again: dropped, so that a listing of
            // 10,000 sections (3 MB) is not kept for a query nobody repeats.
            table = table.filter { now - $0.value.builtAt < Self.maximumAge }
            if table.count >= Self.maximumEntries { table.removeAll(keepingCapacity: true) }
            table[key] = Entry(bytes: bytes, builtAt: now, generation: current, stamp: stamp)
        }
        return bytes
    }
}
