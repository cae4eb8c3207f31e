import CShmLinux
import Dispatch
import Synchronization
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// Publishes one event per change: the registry's own, and other processes' seen through
/// inotify on the shared-memory directory (a queue overflow becomes one `rescan` event).
public final class ChangeFeed: Sendable {
    public typealias Handler = @Sendable (SectionEvent) -> Void

    private let subscribers = Mutex<[UInt64: Handler]>([:])
    private let counter = AtomicCounter()
    private let subscriberIDs = AtomicCounter()
    /// Names this process changed lately: the inotify echo of our own change is not reported again.
    private let ownChanges = Mutex(OwnChanges())
    private let running = Atomic<Bool>(false)
    /// The write end of the pipe that wakes the watcher to stop.
    private let stopWriter = Mutex<OwnedDescriptor?>(nil)
    /// How long after our own change to a name its inotify echo is swallowed.
    static let echoWindow = 1.0
    /// Another process writing a section makes an inotify event per write: at most one `modified`
    /// event per name goes out in this window, and a last one when the window closes.
    static let modifiedWindow = 0.25
    /// How long events gather after the first of a batch before they are read: what another
    /// process's change waits at most before its event goes out.
    static let batchWindow = 0.01
    /// Per name: when the last `modified` went out, and whether more came since (inotify thread only).
    private let modifiedState = Mutex<(sent: [String: Double], pending: Set<String>)>(([:], []))

    init() {}

    /// Calls `handler` for every later event, on the thread that made the change; keep it short.
    public func subscribe(_ handler: @escaping Handler) -> UInt64 {
        let id = subscriberIDs.next()
        subscribers.withLock { $0[id] = handler }
        return id
    }

    public func unsubscribe(_ id: UInt64) { _ = subscribers.withLock { $0.removeValue(forKey: id) } }

    /// Marks `name` as changed by this process now: call before the syscall, so the inotify echo
    /// that may arrive before `publish` is recognised as ours.
    public func noteOwnChange(_ name: String) {
        let now = monotonicNow()
        ownChanges.withLock { $0.note(name, at: now) }
    }

    func publish(
        _ kind: SectionEvent.Kind, _ section: String?, source: SectionEvent.Source = .api,
        _ details: SectionEvent.Details = .none, notingOwnChange: Bool = true
    ) {
        if source == .api, notingOwnChange, let section {
            let now = monotonicNow()
            ownChanges.withLock { $0.note(section, at: now) }
        }
        let event = SectionEvent(
            id: counter.next(), kind: kind, section: section, source: source, time: wallClockNow(), details: details)
        for handler in subscribers.withLock({ Array($0.values) }) { handler(event) }
    }

    /// Publishes that a shared-memory mount appeared on the host or went (the host scan sees
    /// them), in the same sequence of ids as the sections' events.
    public func publishMount(added: Bool, id: String, pids: [Int32]) {
        publish(added ? .mountAdded : .mountRemoved, nil, source: .external, .mount(id: id, pids: pids))
    }

    /// Publishes a doctor finding that appeared or changed severity (its JSON written by the caller).
    public func publishFinding(json: [UInt8]) {
        publish(.finding, nil, source: .external, .finding(json: json))
    }

    /// Publishes that `section` was unlinked by another process while `pids` mapped it.
    public func publishDeletedWhileMapped(_ section: String, uid: UInt32?, pids: [Int32]) {
        publish(.deletedWhileMapped, section, source: .external, .unlinkedWhileMapped(uid: uid, pids: pids))
    }

    /// Publishes a reclaim, restore or purge of `section` (`quarantined`, `restored`, `purged`). The
    /// name may be another mount's, so it is not noted as a change of this directory here; the
    /// caller notes renames in this directory before making them (`noteOwnChange`).
    public func publishQuarantine(
        _ kind: SectionEvent.Kind, _ section: String, objectKind: String, mount: String?, bytes: Int64, id: String?
    ) {
        publish(
            kind, section, source: .api, .quarantine(kind: objectKind, mount: mount, bytes: bytes, id: id),
            notingOwnChange: false)
    }

    /// Starts the inotify watcher on `directory` (a thread of its own, blocked in poll).
    func watch(_ directory: String) throws(SectionError) {
        let (inotify, stopPipe) = try performing("watch the shared-memory directory of", on: nil) {
            () throws(SystemCallError) in
            (try watchDirectory(directory), try makePipe())
        }
        stopWriter.withLock { $0 = stopPipe.write }
        running.store(true, ordering: .sequentiallyConsistent)
        let thread = DispatchQueue(label: "shm-admin.inotify")
        thread.async { [self] in self.loop(inotify: inotify, stop: stopPipe.read) }
    }

    func stop() {
        guard running.exchange(false, ordering: .sequentiallyConsistent) else { return }
        // Closing the write end wakes the watcher's poll.
        stopWriter.withLock { $0 = nil }
    }

    private func loop(inotify: OwnedDescriptor, stop: OwnedDescriptor) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while running.load(ordering: .sequentiallyConsistent) {
            let (events, stopping) = waitForInput(inotify, stop, timeout: Self.modifiedWindow)
            flushModified()
            if !events || stopping { continue }
            // Let the batch fill: a thread that sleeps instead of waiting in poll is not woken for
            // each event of a burst (bench/ANALYSIS.md, the create/delete cycle).
            sleepSeconds(Self.batchWindow)
            var batch: [(String, UInt32)] = []
            while true {
                let count =
                    (try? buffer.withUnsafeMutableBytes { buffer throws(SystemCallError) in
                        try inotify.read(into: buffer)
                    }) ?? 0
                if count <= 0 { break }
                batch += Self.parse(buffer, count: count)
            }
            report(batch)
        }
    }

    static func parse(_ buffer: [UInt8], count: Int) -> [(String, UInt32)] {
        var events: [(String, UInt32)] = []
        var position = 0
        func word(_ at: Int) -> UInt32 {
            UInt32(buffer[at]) | UInt32(buffer[at + 1]) << 8 | UInt32(buffer[at + 2]) << 16 | UInt32(buffer[at + 3])
                << 24
        }
        while position + 16 <= count {
            let mask = word(position + 4)
            let length = Int(word(position + 12))
            let nameBytes = buffer[(position + 16)..<min(count, position + 16 + length)]
            let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
            events.append((name, mask))
            position += 16 + length
        }
        return events
    }

    /// Turns a batch of raw inotify events into at most one event per name and kind. A queue overflow
    /// becomes one `rescan`, which stands for everything before it; events the kernel queued after the
    /// overflow are still reported by name (a change made just after a flood is not swallowed).
    private func report(_ batch: [(String, UInt32)]) {
        var batch = batch[...]
        if let overflow = batch.lastIndex(where: { $0.1 & UInt32(CSHM_IN_Q_OVERFLOW) != 0 }) {
            publish(.rescan, nil, source: .external)
            batch = batch[(overflow + 1)...]
        }
        let now = monotonicNow()
        let recent = ownChanges.withLock { own in Set(batch.map(\.0).filter { own.isRecent($0, at: now) }) }
        var seen = Set<String>()
        for (name, mask) in batch where !name.isEmpty && !SectionRegistry.isInternalName(name) {
            let kind: SectionEvent.Kind
            if mask & UInt32(CSHM_IN_CREATE | CSHM_IN_MOVED_TO) != 0 {
                kind = .created
            } else if mask & UInt32(CSHM_IN_DELETE | CSHM_IN_MOVED_FROM) != 0 {
                kind = .deleted
            } else {
                kind = .modified
            }
            if recent.contains(name) || !seen.insert(kind.rawValue + "\u{0}" + name).inserted { continue }
            if kind == .modified {
                let hold = modifiedState.withLock { state in
                    if let last = state.sent[name], now - last < Self.modifiedWindow {
                        state.pending.insert(name)
                        return true
                    }
                    state.sent[name] = now
                    return false
                }
                if hold { continue }
            } else {
                _ = modifiedState.withLock { $0.pending.remove(name) }
            }
            publish(kind, name, source: .external)
        }
    }

    /// Sends the `modified` events held back whose window has closed, and forgets old names.
    private func flushModified() {
        let now = monotonicNow()
        let due: [String] = modifiedState.withLock { state in
            let ready = state.pending.filter { now - (state.sent[$0] ?? 0) >= Self.modifiedWindow }
            state.pending.subtract(ready)
            for name in ready { state.sent[name] = now }
            state.sent = state.sent.filter {
                now - $0.value < 4 * Self.modifiedWindow || state.pending.contains($0.key)
            }
            return Array(ready)
        }
        for name in due.sorted() { publish(.modified, name, source: .external) }
    }
}

/// When this process last changed each name. Old entries are dropped at most once per echo window
/// and a batch looks up only its own names, so the lock every mutation takes is held briefly
/// (bench/ANALYSIS.md, the create/delete cycle).
struct OwnChanges {
    private var lastChange: [String: Double] = [:]
    private var prunedAt = 0.0

    mutating func note(_ name: String, at now: Double) {
        lastChange[name] = now
        if now - prunedAt >= ChangeFeed.echoWindow {
            lastChange = lastChange.filter { now - $0.value < ChangeFeed.echoWindow }
            prunedAt = now
        }
    }

    func isRecent(_ name: String, at now: Double) -> Bool {
        guard let last = lastChange[name] else { return false }
        return now - last < ChangeFeed.echoWindow
    }

    /// Names remembered now, old ones included until the next prune (tests).
    var count: Int { lastChange.count }
}
