import Dispatch
import HTTPServer
import HostScan
import SectionRegistry
import Synchronization

/// `mount-added` and `mount-removed` (API-HOST.md "Events"): while an event stream is open, the
/// host's `/dev/shm` mounts are compared every `interval` seconds with the last ones seen, by a
/// light pass (namespace links and mountinfo, no maps); with no stream open nothing is scanned,
/// and the comparison starts afresh when one opens.
final class MountEvents: Sendable {
    private let host: HostScanner
    private let feed: ChangeFeed
    private let broadcaster: EventBroadcaster
    /// DispatchSourceTimer is thread-safe but not marked Sendable.
    private struct Timer: @unchecked Sendable {
        let source: DispatchSourceTimer
    }

    private let timer: Timer
    /// The mounts of the last check, with their processes; nil when no stream was open then.
    private let last = Mutex<[DeviceID: [Int32]]?>(nil)

    init(host: HostScanner, feed: ChangeFeed, broadcaster: EventBroadcaster, interval: Double = 2) {
        self.host = host
        self.feed = feed
        self.broadcaster = broadcaster
        let source = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "shm-admin.mount-events"))
        timer = Timer(source: source)
        source.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(200))
        source.setEventHandler { [weak self] in self?.check() }
        source.resume()
    }

    func stop() { timer.source.cancel() }

    private func check() {
        guard broadcaster.hasSubscribers else {
            last.withLock { $0 = nil }
            return
        }
        let now = host.shmMountMembers()
        guard
            let before = last.withLock({ state in
                defer { state = now }; return state
            })
        else { return }
        for device in Set(now.keys).subtracting(before.keys).sorted() {
            feed.publishMount(added: true, id: device.description, pids: Array(now[device]!.prefix(16)))
        }
        for device in Set(before.keys).subtracting(now.keys).sorted() {
            feed.publishMount(added: false, id: device.description, pids: Array(before[device]!.prefix(16)))
        }
        if now.keys != before.keys { host.invalidate() }
    }
}
