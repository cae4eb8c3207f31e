import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Change feed")
struct ChangeFeedTests {
    @Test("every change made through the registry publishes one event, in order, with its details")
    func apiEvents() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let events = EventLog(registry)
        defer { events.stop() }
        let name = try box.sectionName("feed")
        let started = Date().timeIntervalSince1970
        try registry.make(name, reserve: 8 * page, commit: page)
        try registry.write(named: name, offset: 10, Array("abc"))
        _ = try registry.grow(named: name, .commit(2 * page))
        _ = try registry.reset(named: name, offset: 0, length: page)
        let view = try registry.mapView(named: name, access: .rw)
        try registry.writeView(named: name, id: view.id, offset: page + 4, Array("xy"))
        let moved = try registry.moveView(named: name, id: view.id, from: view.address, to: nil)
        try registry.unmapView(named: name, id: view.id)
        let lease = try registry.acquireLease(named: name, mode: .shared, timeout: 1, ttl: 60)
        try registry.releaseLease(named: name, lease: lease.id)
        try makeFile(box.path("foreign"), size: 10)
        _ = try registry.adopt(named: box.sectionName("foreign"))
        try registry.delete(named: name)
        // Refused and empty operations publish nothing.
        _ = try? registry.grow(named: box.sectionName("foreign"), .commit(0))
        _ = try? registry.write(named: box.sectionName("foreign"), offset: 100, Array("x"))
        try registry.write(named: box.sectionName("foreign"), offset: 0, [])
        let seen = events.all.filter { $0.section?.hasPrefix(box.prefix) == true }
        let expected: [(SectionEvent.Kind, String, SectionEvent.Details)] = [
            (.created, "feed", .created(commit: page, reserve: 8 * page)),
            (.written, "feed", .range(offset: 10, length: 3)),
            (.grown, "feed", .grown(commit: 2 * page, previous: page)),
            (.reset, "feed", .range(offset: 0, length: page)),
            (.viewMapped, "feed", .view(id: view.id)),
            (.written, "feed", .range(offset: page + 4, length: 2, view: view.id)),
            (.viewMoved, "feed", .viewMoved(id: view.id, address: moved.address)),
            (.viewUnmapped, "feed", .view(id: view.id)),
            (.locked, "feed", .locked(lease: lease.id, mode: .shared)),
            (.unlocked, "feed", .unlocked(lease: lease.id)),
            (.adopted, "foreign", .adopted(reserve: page)),
            (.deleted, "feed", .none),
        ]
        #expect(seen.map(\.kind) == expected.map(\.0))
        for (event, (kind, suffix, details)) in zip(seen, expected) {
            #expect(event.section == box.name(suffix), "\(kind)")
            #expect(event.details == details, "\(kind)")
            #expect(event.source == .api)
            #expect(event.time >= started - 1 && event.time <= Date().timeIntervalSince1970 + 1)
        }
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.id < $1.id }, "ids increase")
    }

    @Test("a delete publishes view-unmapped for each of our views first")
    func deleteUnmapsViews() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("feed")
        try registry.make(name, reserve: page)
        let view = try registry.mapView(named: name, access: .ro)
        let events = EventLog(registry)
        defer { events.stop() }
        try registry.delete(named: name)
        #expect(events.about(name.value).map(\.kind) == [.viewUnmapped, .deleted])
        #expect(events.about(name.value).first?.details == .view(id: view.id))
    }

    @Test("another process's create, change and delete arrive as external events within a bounded wait")
    func externalEvents() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry(watch: true)
        let events = EventLog(registry)
        defer { events.stop() }
        let peer = try PythonPeer()
        defer { peer.stop() }
        let name = box.name("ext")
        try peer.run("create \(name) 4096")
        #expect(eventually { events.about(name).contains { $0.kind == .created && $0.source == .external } })
        try peer.run("truncate \(name) 8192")
        #expect(eventually { events.about(name).contains { $0.kind == .modified && $0.source == .external } })
        try peer.run("close")
        try peer.run("unlink \(name)")
        #expect(eventually { events.about(name).contains { $0.kind == .deleted && $0.source == .external } })
        #expect(events.about(name).allSatisfy { $0.source == .external })
        #expect(events.about(name).filter { $0.kind == .created }.count == 1, "one event per change")
    }

    @Test("another process writing in bursts makes a few modified events, and one after its last write")
    func modifiedEventsAreCoalesced() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry(watch: true)
        let events = EventLog(registry)
        defer { events.stop() }
        let name = box.name("burst")
        // Plain syscalls, not the registry: to the feed these writes are another process's.
        let fd = open(box.path("burst"), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(eventually { events.about(name).contains { $0.kind == .created } })
        var lastWrite = 0.0
        for index in 0..<12 {
            var byte = UInt8(index)
            #expect(pwrite(fd, &byte, 1, off_t(index)) == 1)
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            lastWrite = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
            usleep(50_000)
        }
        #expect(eventually { events.about(name).contains { $0.kind == .modified && $0.time >= lastWrite } })
        let modified = events.about(name).filter { $0.kind == .modified }.count
        #expect(modified >= 2 && modified < 12, "\(modified) modified events for 12 writes 50 ms apart")
    }

    @Test("the registry's own changes are not echoed back as external events")
    func noEchoOfOwnChanges() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry(watch: true)
        let events = EventLog(registry)
        defer { events.stop() }
        for index in 0..<20 {
            let name = try box.sectionName("own\(index)")
            try registry.make(name, reserve: 4 * page, commit: page)
            try registry.write(named: name, offset: 0, Array("x"))
            _ = try registry.grow(named: name, .by(page))
            try registry.delete(named: name)
        }
        usleep(500_000)  // time for inotify to deliver whatever it will
        let external = events.all.filter { $0.section?.hasPrefix(box.prefix) == true && $0.source == .external }
        #expect(external.isEmpty, "\(external.map { "\($0.kind) \($0.section ?? "")" })")
        #expect(events.all.filter { $0.section?.hasPrefix(box.prefix) == true && $0.kind == .created }.count == 20)
        #expect(!events.contains { $0.section?.hasPrefix(SectionRegistry.temporaryPrefix) == true })
    }

    @Test("letting go of a lease or a view long after taking it is not reported as another process's change")
    func noEchoOfLateReleases() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry(watch: true)
        let name = try box.sectionName("late")
        let other = try box.sectionName("expiring")
        try registry.make(name, reserve: page)
        try registry.make(other, reserve: page)
        let lease = try registry.acquireLease(named: name, mode: .exclusive, timeout: 1, ttl: 60)
        let view = try registry.mapView(named: name, access: .rw)
        let expiring = try registry.acquireLease(named: other, mode: .exclusive, timeout: 1, ttl: 2)
        usleep(UInt32(ChangeFeed.echoWindow * 1_000_000) + 300_000)  // past the window that swallows echoes
        let events = EventLog(registry)
        defer { events.stop() }
        try registry.releaseLease(named: name, lease: lease.id)
        try registry.unmapView(named: name, id: view.id)
        usleep(UInt32(ChangeFeed.echoWindow * 1_000_000) + 300_000)
        _ = try registry.withLock(named: name, mode: .exclusive, timeout: 1) { 0 }
        #expect(
            eventually {
                events.about(other.value).contains { $0.details == .unlocked(lease: expiring.id, expired: true) }
            })
        usleep(500_000)
        #expect(events.about(name.value).map { "\($0.kind) \($0.source)" } == ["unlocked api", "viewUnmapped api"])
        #expect(events.about(other.value).map { "\($0.kind) \($0.source)" } == ["unlocked api"])
    }

    @Test("an inotify queue overflow becomes one rescan event")
    func overflowRescans() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry(watch: true)
        let stalled = Locked(false)
        let events = EventLog(registry)
        defer { events.stop() }
        // Stall the watcher on the first external event so the kernel's queue overflows behind it.
        let stall = registry.changes.subscribe { event in
            guard event.source == .external, event.section?.hasPrefix(box.prefix) == true else { return }
            let first = stalled.update { value -> Bool in
                let was = value
                value = true
                return !was
            }
            if first { usleep(2_000_000) }
        }
        defer { registry.changes.unsubscribe(stall) }
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.run("create \(box.name("first")) 4096")
        #expect(eventually { stalled.value })
        try peer.run("flood \(box.name("f")) 7000", timeout: 30)
        #expect(eventually(timeout: 10) { events.contains { $0.kind == .rescan } })
        let rescan = events.all.first { $0.kind == .rescan }
        #expect(rescan?.section == nil)
        #expect(rescan?.source == .external)
    }

    @Test("unsubscribed handlers get nothing more")
    func unsubscribe() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let events = EventLog(registry)
        try registry.make(box.sectionName("a"), reserve: page)
        events.stop()
        try registry.make(box.sectionName("b"), reserve: page)
        #expect(events.all.compactMap(\.section) == [box.name("a")])
    }

    @Test("own changes count as recent for the echo window, and old ones are dropped in one prune a window")
    func ownChangesWindow() {
        var own = OwnChanges()
        let window = ChangeFeed.echoWindow
        own.note("a", at: 100)
        #expect(own.isRecent("a", at: 100 + window / 2))
        #expect(!own.isRecent("a", at: 100 + window * 1.1))
        #expect(!own.isRecent("never", at: 100))
        own.note("b", at: 100 + window * 0.9)
        #expect(own.count == 2, "no prune within a window of the last one")
        own.note("c", at: 100 + window * 1.5)
        #expect(own.count == 2, "`a` is past the window and pruned; `b` and `c` stay")
        #expect(own.isRecent("b", at: 100 + window * 1.5))
        for index in 0..<10_000 { own.note("n\(index)", at: 200 + Double(index) * window / 1000) }
        #expect(own.count <= 2_001, "at most two windows of names are remembered: \(own.count)")
    }
}
