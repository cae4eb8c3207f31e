import HostScan
import Synchronization

/// One history sample (API-HOST.md "History"): each mount's use, exposure and orphan count, and
/// the largest objects' memory.
public struct HistorySample: Sendable, Equatable {
    public struct MountSample: Sendable, Equatable {
        public var device: DeviceID
        public var usedBytes: Int64
        public var exposureBytes: Int64
        /// Objects idle for the grace period that no process uses (the `orphans` check's count).
        public var orphans: Int

        public init(device: DeviceID, usedBytes: Int64, exposureBytes: Int64, orphans: Int) {
            self.device = device
            self.usedBytes = usedBytes
            self.exposureBytes = exposureBytes
            self.orphans = orphans
        }
    }

    public struct ObjectSample: Sendable, Equatable {
        public var href: String
        public var allocatedBytes: Int64

        public init(href: String, allocatedBytes: Int64) {
            self.href = href
            self.allocatedBytes = allocatedBytes
        }
    }

    /// Seconds since the epoch.
    public var time: Double
    public var mounts: [MountSample]
    public var objects: [ObjectSample]

    public init(time: Double, mounts: [MountSample], objects: [ObjectSample]) {
        self.time = time
        self.mounts = mounts
        self.objects = objects
    }

    /// At most this many mounts (the fullest) and objects (the largest) per sample, and at most
    /// this many bytes of hrefs: what bounds the ring's memory whatever the host.
    public static let mountLimit = 64
    public static let objectLimit = 50
    public static let hrefBytesLimit = 12 * 1024

    /// A sample of a snapshot.
    public static func of(_ snapshot: HostSnapshot, graceSeconds: Double, now: Double? = nil) -> HistorySample {
        let now = now ?? snapshot.wallTime
        let mounts = snapshot.mounts.sorted { ($0.capacity?.usedBytes ?? 0) > ($1.capacity?.usedBytes ?? 0) }
            .prefix(mountLimit).map { mount in
                MountSample(
                    device: mount.device, usedBytes: mount.capacity?.usedBytes ?? 0,
                    exposureBytes: mount.exposureBytes,
                    orphans: Orphans.idle(on: mount, snapshot, graceSeconds: graceSeconds, now: now).count)
            }
        var candidates: [ObjectSample] = []
        for mount in snapshot.mounts {
            let prefix = Hrefs.filePrefix(of: mount)
            for entry in mount.entries {
                candidates.append(
                    ObjectSample(href: prefix + Hrefs.segment(entry.name), allocatedBytes: entry.facts.allocatedBytes))
            }
        }
        for segment in snapshot.sysv {
            candidates.append(
                ObjectSample(href: Hrefs.sysv(segment), allocatedBytes: segment.rssBytes + segment.swapBytes))
        }
        for object in snapshot.objects.values where object.kind != .named {
            candidates.append(
                ObjectSample(href: Hrefs.unlinked(object.id), allocatedBytes: object.facts?.allocatedBytes ?? 0))
        }
        candidates.sort { ($0.allocatedBytes, $1.href) > ($1.allocatedBytes, $0.href) }
        var objects: [ObjectSample] = []
        var hrefBytes = 0
        for candidate in candidates where objects.count < objectLimit {
            guard hrefBytes + candidate.href.utf8.count <= hrefBytesLimit else { continue }
            hrefBytes += candidate.href.utf8.count
            objects.append(candidate)
        }
        return HistorySample(time: now, mounts: Array(mounts), objects: objects)
    }

    /// Roughly what the sample keeps in memory (arrays' elements and the hrefs' storage).
    public var approximateBytes: Int {
        64 + mounts.count * MemoryLayout<MountSample>.stride
            + objects.reduce(0) { $0 + MemoryLayout<ObjectSample>.stride + 32 + $1.href.utf8.count }
    }
}

/// The samples of the last hour and a bit, in a ring of fixed size: memory does not grow with
/// uptime (at most `capacity` samples of bounded size, under 8 MiB).
public final class HistoryRing: Sendable {
    /// Seconds between samples.
    public static let interval = 10.0
    /// 62 minutes at one sample every 10 s.
    public static let defaultCapacity = 372

    public let capacity: Int
    private struct Storage {
        var samples: [HistorySample] = []
        /// Where the next sample goes once the ring is full.
        var next = 0
    }

    private let storage = Mutex(Storage())

    public init(capacity: Int = defaultCapacity) { self.capacity = max(1, capacity) }

    public func record(_ sample: HistorySample) {
        storage.withLock { storage in
            var sample = sample
            // The largest objects rarely change: share the previous sample's href strings.
            if let previous = storage.samples.isEmpty
                ? nil : storage.samples[(storage.next + storage.samples.count - 1) % storage.samples.count]
            {
                let known = Dictionary(
                    previous.objects.map { ($0.href, $0.href) }, uniquingKeysWith: { first, _ in first })
                for index in sample.objects.indices {
                    if let shared = known[sample.objects[index].href] { sample.objects[index].href = shared }
                }
            }
            if storage.samples.count < capacity {
                storage.samples.append(sample)
            } else {
                storage.samples[storage.next] = sample
                storage.next = (storage.next + 1) % capacity
            }
        }
    }

    /// Oldest first; only those taken at or after `since` (seconds since the epoch) when given.
    public func samples(since: Double? = nil) -> [HistorySample] {
        let ordered = storage.withLock { storage in
            Array(storage.samples[storage.next...] + storage.samples[..<storage.next])
        }
        guard let since else { return ordered }
        return ordered.filter { $0.time >= since }
    }

    public var approximateBytes: Int { storage.withLock { $0.samples.reduce(0) { $0 + $1.approximateBytes } } }
}
