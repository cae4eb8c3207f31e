import Foundation
import Synchronization
import SystemSeam
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Discovery")
struct DiscoveryTests {
    @Test(
        "a foreign python section: managed false, python's pid among mappers and holders, orphan only after it lets go")
    func foreignPythonSection() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.run("create \(box.name("foreign")) 10000")
        try peer.run("write 0 " + Array("py").hex)
        let name = try box.sectionName("foreign")
        let (sections, total) = try registry.list(ListFilter(query: box.prefix))
        #expect(total == 1)
        let info = try #require(sections.first)
        #expect(info.name == name.value)
        #expect(!info.managed)
        #expect(info.kind == .shm)
        #expect(info.reserve == nil)
        #expect(info.commit == 10000)
        #expect(info.state == .ok)
        #expect(info.mode == 0o600)
        #expect(info.namespace == .local)
        #expect(info.uid == getuid())
        #expect(info.dataBytes == page)
        #expect(!info.orphan)
        #expect(info.mappers == 1)
        let detail = try registry.detail(named: name)
        let mapper = try #require(detail.mappers.first)
        #expect(detail.mappers.count == 1)
        #expect(mapper.pid == peer.pid)
        #expect(mapper.command.hasPrefix("python"))
        #expect(mapper.offset == 0)
        #expect(mapper.access == .rw)
        #expect(mapper.end - mapper.start == UInt64(3 * page), "10000 bytes map as three pages")
        #expect(Set(detail.holders.map(\.pid)) == [peer.pid], "SharedMemory (and its mmap's dup) keep descriptors open")
        #expect(try registry.mappers(of: name) == detail.mappers)
        #expect(try registry.list(ListFilter(orphan: false, query: box.prefix)).total == 1)
        #expect(try registry.list(ListFilter(orphan: true, query: box.prefix)).total == 0)
        // Python exits without unlinking: the object stays, and nobody maps or holds it.
        peer.exit()
        #expect(!peer.isRunning)
        #expect(eventually { (try? registry.section(named: name).orphan) == true })
        #expect(try registry.detail(named: name).mappers.isEmpty)
        #expect(try registry.detail(named: name).holders.isEmpty)
        #expect(try registry.list(ListFilter(orphan: true, query: box.prefix)).total == 1)
        #expect(try !registry.section(named: name).managed)
    }

    @Test("a listing of thousands (split over the cores) is complete, sorted, and reads each one's own facts")
    func longListing() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let count = 3_000
        let size = Int(page)
        // Names made in shuffled order; sizes and data differ by index, so a slot mixed up shows.
        for index in (0..<count).shuffled() {
            let fd = open(box.path(String(format: "many-%05d", index)), O_RDWR | O_CREAT | O_EXCL, 0o600)
            #expect(fd >= 0)
            defer { close(fd) }
            #expect(ftruncate(fd, off_t(size * (1 + index % 5))) == 0)
            if index % 3 == 0 {  // one page of data in every third; the others have no pages at all
                #expect(pwrite(fd, [UInt8](repeating: 7, count: size), size, off_t(size * (index % 5))) == size)
            }
        }
        let (sections, total) = try registry.list(ListFilter(query: box.name("many-"), limit: 10_000))
        #expect(total == count)
        #expect(sections.map(\.name) == (0..<count).map { box.name(String(format: "many-%05d", $0)) })
        for (index, info) in sections.enumerated() {
            let data: Int64 = index % 3 == 0 ? page : 0
            #expect(info.commit == page * Int64(1 + index % 5), "\(info.name)")
            #expect(info.dataBytes == data, "\(info.name)")
            #expect(info.allocatedBytes == info.dataBytes, "\(info.name)")
        }
    }

    @Test("orphan turns true when the mapping process exits")
    func orphanAfterExit() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("managed")
        try registry.make(name, reserve: 4 * page)
        let view = try registry.mapView(named: name, access: .rw)
        #expect(try registry.section(named: name).orphan, "our own views do not count")
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.run("attach \(name)")
        #expect(eventually { (try? registry.section(named: name).orphan) == false })
        #expect(try registry.section(named: name).mappers == 1)
        peer.exit()
        #expect(!peer.isRunning)
        #expect(eventually { (try? registry.section(named: name).orphan) == true })
        #expect(try registry.section(named: name).mappers == 0)
        try registry.unmapView(named: name, id: view.id)
    }

    @Test("read-only mappings and open descriptors are seen for what they are")
    func mapperAccessAndHolders() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("s")
        try registry.make(name, reserve: 2 * page)
        let reader = try PythonPeer()
        defer { reader.stop() }
        let holder = try PythonPeer()
        defer { holder.stop() }
        try reader.run("openro \(name)")
        try holder.run("hold \(name)")
        #expect(
            eventually {
                let detail = try? registry.detail(named: name)
                return detail?.mappers.map(\.pid) == [reader.pid]
                    && Set(detail?.holders.map(\.pid) ?? []) == [reader.pid, holder.pid]
            })
        let detail = try registry.detail(named: name)
        #expect(detail.mappers.first?.access == .ro)
        #expect(!detail.section.orphan)
        try reader.run("close")
        #expect(eventually { (try? registry.detail(named: name).mappers.isEmpty) == true })
        #expect(try !registry.section(named: name).orphan, "an open descriptor alone keeps it from being an orphan")
        try holder.run("close")
        #expect(eventually { (try? registry.section(named: name).orphan) == true })
    }

    @Test("mappers are at most a second old with the default scan age")
    func freshness() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry(scanMaximumAge: 1.0)
        let name = try box.sectionName("fresh")
        try registry.make(name, reserve: page)
        #expect(try registry.section(named: name).mappers == 0)
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.run("attach \(name)")
        let clock = ContinuousClock()
        let mapped = clock.now
        #expect(eventually(timeout: 3) { (try? registry.section(named: name).mappers) == 1 })
        #expect(clock.now - mapped < .seconds(2), "seen within the second (plus the scan and a busy machine)")
    }

    @Test("semaphores are listed as kind semaphore and never mutated")
    func semaphores() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let semName = "sem." + box.name("x")
        let path = Sandbox.shm + "/" + semName
        try makeFile(path, size: 32)
        let name = try SectionName(semName)
        let info = try registry.section(named: name)
        #expect(info.kind == .semaphore)
        #expect(!info.managed)
        #expect(info.commit == 32)
        let listed = try registry.list(ListFilter(kind: .semaphore, query: box.prefix))
        #expect(listed.sections.map(\.name) == [semName])
        #expect(try registry.list(ListFilter(kind: .shm, query: box.prefix)).total == 0)
        expectError(.semaphore) { try registry.delete(named: name) }
        expectError(.semaphore) { try registry.delete(named: name, force: true) }
        expectError(.semaphore) { try registry.grow(named: name, .by(page)) }
        expectError(.semaphore) { try registry.adopt(named: name) }
        expectError(.semaphore) { try registry.write(named: name, offset: 0, Array("x")) }
        expectError(.semaphore) { try registry.reset(named: name, offset: 0, length: 0) }
        expectError(.semaphore) { try registry.mapView(named: name, access: .rw) }
        #expect(fileStatus(path)?.st_size == 32)
        #expect(readFile(path, offset: 0, count: 1) == [0])
        #expect(registry.record(semName) == nil)
        #expect(registry.systemInfo().counts.semaphores >= 1)
    }

    @Test("the list: sorted, filtered by managed, kind, orphan and substring, paged with a total")
    func listFilters() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        for suffix in ["c-managed", "a-managed", "b-managed"] {
            try registry.make(box.sectionName(suffix), reserve: page)
        }
        try makeFile(box.path("d-foreign"), size: 10)
        try makeFile(Sandbox.shm + "/sem." + box.name("e"), size: 32)
        func names(_ filter: ListFilter) throws -> [String] { try registry.list(filter).sections.map(\.name) }
        let all = try names(ListFilter(query: box.prefix))
        let sorted = ["sem." + box.name("e")] + ["a-managed", "b-managed", "c-managed", "d-foreign"].map(box.name)
        #expect(all == sorted, "sorted by name")
        #expect(try names(ListFilter(managed: true, query: box.prefix)).count == 3)
        #expect(try names(ListFilter(managed: false, query: box.prefix)).count == 2)
        #expect(try names(ListFilter(managed: false, kind: .shm, query: box.prefix)) == [box.name("d-foreign")])
        #expect(try names(ListFilter(query: box.prefix + "b")) == [box.name("b-managed")])
        #expect(try names(ListFilter(query: box.prefix + "zzz")).isEmpty)
        let paged = try registry.list(ListFilter(query: box.prefix, limit: 2, offset: 1))
        #expect(paged.total == 5)
        #expect(paged.sections.map(\.name) == [box.name("a-managed"), box.name("b-managed")])
        #expect(try registry.list(ListFilter(query: box.prefix, limit: 10, offset: 10)).sections.isEmpty)
        #expect(try registry.list(ListFilter(query: box.prefix, limit: 0)).total == 5)
        #expect(try registry.list(ListFilter(orphan: true, query: box.prefix)).total == 5)
    }

    @Test("foreign metadata comes from fstat: size, mode, namespace from the mode, times")
    func foreignMetadata() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let before = Date().timeIntervalSince1970 - 5
        try makeFile(box.path("private"), size: 5000, mode: 0o600)
        try makeFile(box.path("shared"), size: 1, mode: 0o600)
        chmod(box.path("shared"), 0o644)
        let local = try registry.section(named: box.sectionName("private"))
        let global = try registry.section(named: box.sectionName("shared"))
        #expect(local.namespace == .local)
        #expect(global.namespace == .global)
        #expect(global.mode == 0o644)
        #expect(local.commit == 5000)
        #expect(local.createdAt >= before && local.createdAt <= Date().timeIntervalSince1970 + 5)
        #expect(local.modifiedAt >= before)
        #expect(local.allocatedBytes == 0, "ftruncate allocates nothing")
        #expect(UInt64(fileStatus(box.path("private"))?.st_ino ?? 0) == local.inode)
    }

    /// A create's temporary file of a live process (`peer`), so that no registry's start removes it.
    static func temporary(of peer: PythonPeer, in box: Sandbox) throws -> String {
        let name = SectionRegistry.temporaryPrefix + "\(peer.pid)-" + box.name("tmp")
        try makeFile(Sandbox.shm + "/" + name, size: 10)
        return name
    }

    @Test("internal temporaries, directories and symbolic links are not sections")
    func notSections() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let peer = try PythonPeer()
        defer { peer.stop() }
        _ = try Self.temporary(of: peer, in: box)
        #expect(mkdir(box.path("dir"), 0o700) == 0)
        defer { rmdir(box.path("dir")) }
        try makeFile(box.path("target"), size: 10)
        #expect(symlink(box.path("target"), box.path("link")) == 0)
        let names = try registry.list(ListFilter(query: box.prefix)).sections.map(\.name)
        #expect(names == [box.name("target")])
        expectError(.notFound) { try registry.section(named: box.sectionName("dir")) }
        expectError(.notFound) { try registry.section(named: box.sectionName("link")) }
        expectError(.notFound) { try registry.section(named: box.sectionName("nothing")) }
    }

    @Test("a listing of every section keeps the directory's regular files for the host's pass; a filtered one does not")
    func keptListing() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let peer = try PythonPeer()
        defer { peer.stop() }
        let temporary = try Self.temporary(of: peer, in: box)
        try makeFile(box.path("target"), size: 10)
        #expect(mkdir(box.path("dir"), 0o700) == 0)
        defer { rmdir(box.path("dir")) }
        // An object the filter leaves out, so the filtered listing is not every object even when
        // /dev/shm holds nothing else (another sandbox's prefix: this run's all the same).
        let other = try Sandbox()
        defer { other.close() }
        try makeFile(other.path("elsewhere"), size: 1)
        let before = monotonicNow()
        _ = try registry.list(ListFilter(query: box.prefix))
        #expect(registry.recentListing(since: before) == nil, "a filtered listing stats only what it keeps")
        _ = try registry.list(ListFilter(limit: 1))
        let listing = try #require(registry.recentListing(since: before))
        #expect(listing.takenAt >= before)
        let names = listing.objects.map(\.name)
        #expect(names.contains(box.name("target")) && names.contains(temporary), "temporaries are the mount's too")
        #expect(!names.contains(box.name("dir")), "regular files only")
        #expect(names == names.sorted())
        let target = try #require(listing.objects.first { $0.name == box.name("target") })
        #expect(target.status.st_size == 10)
        #expect(registry.recentListing(since: monotonicNow() + 1) == nil, "too old for a later start")
    }

    @Test("a listing under way is waited for, then answers with the listing kept; none once it ended")
    func listingUnderWay() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        try makeFile(box.path("target"), size: 10)
        #expect(registry.listingUnderWay(since: -.infinity) == nil, "none under way")
        let before = monotonicNow()
        let marked = registry.beginListing()
        let underWay = try #require(registry.listingUnderWay(since: before))
        #expect(registry.listingUnderWay(since: monotonicNow() + 1) == nil, "one that began earlier is not in time")
        let got = Mutex<DirectoryListing??>(nil)
        let waiter = DispatchGroup()
        DispatchQueue.global().async(group: waiter) {
            let listing = underWay.wait()
            got.withLock { $0 = .some(listing) }
        }
        _ = try registry.list(ListFilter(limit: 1))  // keeps a listing of every section
        #expect(got.withLock { $0 } == nil, "still waiting: the listing under way has not ended")
        marked.end()
        #expect(waiter.wait(timeout: .now() + 5) == .success)
        let listing = try #require(got.withLock { $0 } ?? nil)
        #expect(listing.takenAt >= before)
        #expect(listing.objects.contains { $0.name == box.name("target") && $0.status.st_size == 10 })
        #expect(registry.listingUnderWay(since: -.infinity) == nil, "none under way once it ended")
    }

    @Test("a pass asked for by a listing of every section gets that listing; by a filtered one, none")
    func listingForItsPass() throws {
        let box = try Sandbox()
        defer { box.close() }
        let view = ListingView()
        let registry = try SectionRegistry(
            configuration: .init(
                stateDirectory: box.newStateDirectory(), watchDirectory: false, processView: { _ in view }))
        defer { registry.close() }
        view.registry.withLock { $0 = registry }
        try makeFile(box.path("target"), size: 10)
        // The view is asked on a worker while the directory is listed: it gets the listing under
        // way, or the one kept if the listing ended first (as the host's pass does).
        view.since.withLock { $0 = monotonicNow() }
        _ = try registry.list(ListFilter(limit: 1))
        let listing = try #require(view.seen.withLock { $0 } ?? nil, "the view got the listing")
        #expect(listing.objects.contains { $0.name == box.name("target") && $0.status.st_size == 10 })
        // An object the filter leaves out (another sandbox's prefix), so that the filtered listing
        // is not every object even when /dev/shm holds nothing else.
        let other = try Sandbox()
        defer { other.close() }
        try makeFile(other.path("elsewhere"), size: 1)
        view.seen.withLock { $0 = nil }
        view.since.withLock { $0 = monotonicNow() }
        _ = try registry.list(ListFilter(query: box.prefix))
        let filtered = try #require(view.seen.withLock { $0 }, "the view was asked during the filtered listing")
        #expect(filtered == nil, "a filtered listing is no listing of the mount")
    }

    @Test("a listing of every section takes a view at hand as it is: no pass asked for, on no other thread")
    func viewAtHand() throws {
        let box = try Sandbox()
        defer { box.close() }
        let view = ViewAtHand()
        let registry = try SectionRegistry(
            configuration: .init(
                stateDirectory: box.newStateDirectory(), watchDirectory: false, processView: { _ in view }))
        defer { registry.close() }
        try makeFile(box.path("target"), size: 10)
        let (sections, _) = try registry.list(ListFilter(limit: 10_000))
        #expect(sections.contains { $0.name == box.name("target") })
        #expect(view.made.withLock { $0 } == 0, "the view at hand served the listing")
        _ = try registry.list(ListFilter(query: box.prefix))
        #expect(view.made.withLock { $0 } == 1, "a filtered listing asks as before")
    }

    @Test(
        "an entry that is no object (symbolic link, directory, FIFO) is .notFound for every operation, never a hang",
        arguments: ["link", "dir", "fifo"])
    func entriesThatAreNoObjects(_ kind: String) throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let path = box.path(kind)
        try makeFile(box.path("target"), size: Int(page))
        switch kind {
        case "link": #expect(symlink(box.path("target"), path) == 0)
        case "dir": #expect(mkdir(path, 0o700) == 0)
        default: #expect(mkfifo(path, 0o600) == 0)
        }
        defer { rmdir(path) }
        let name = try box.sectionName(kind)
        let operations: [(String, @Sendable () throws -> Void)] = [
            ("section", { _ = try registry.section(named: name) }),
            ("read", { _ = try registry.read(named: name, offset: 0, length: 1) }),
            ("pageMap", { _ = try registry.pageMap(named: name) }),
            ("mapView", { _ = try registry.mapView(named: name, access: .ro) }),
            ("openForStreaming", { _ = try registry.openForStreaming(named: name) }),
            ("shared lock", { _ = try registry.acquireLease(named: name, mode: .shared, timeout: 0, ttl: 1) }),
            ("exclusive lock", { _ = try registry.acquireLease(named: name, mode: .exclusive, timeout: 0, ttl: 1) }),
            ("adopt", { _ = try registry.adopt(named: name) }),
        ]
        for (label, operation) in operations {
            let outcome = Locked<String?>(nil)
            Thread {
                do {
                    try operation()
                    outcome.update { $0 = "succeeded" }
                } catch let error as SectionError {
                    outcome.update { $0 = "\(error.kind)" }
                } catch {
                    outcome.update { $0 = "\(error)" }
                }
            }.start()
            let finished = eventually(timeout: 5) { outcome.value != nil }
            if !finished {
                // Release an open blocked on the FIFO, so the thread does not stay behind.
                let writer = open(path, O_RDWR | O_NONBLOCK)
                if writer >= 0 { close(writer) }
            }
            #expect(finished, "\(label) returned")
            #expect(outcome.value == "notFound", "\(label) of a \(kind)")
        }
        #expect(try registry.list(ListFilter(query: box.prefix)).sections.map(\.name) == [box.name("target")])
    }

    @Test("system info: page size, the tmpfs's size and use, kernel")
    func systemInfo() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let info = registry.systemInfo()
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: names.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        #expect(info.pageSize == page)
        #expect(info.shmPath == "/dev/shm")
        #expect(info.shmSize == shmCapacity().total)
        #expect(info.shmFree > 0 && info.shmFree <= info.shmSize)
        #expect(info.shmUsed >= 0 && info.shmUsed <= info.shmSize)
        #expect(info.kernel == release)
        #expect(info.shmmax > 0)
        #expect(info.counts.sections >= info.counts.managed + info.counts.semaphores)
    }
}

/// A process view with a view at hand (`cachedSnapshot`), counting the calls that would make one.
private final class ViewAtHand: ProcessView {
    let made = Mutex(0)

    func snapshot() -> ProcSnapshot {
        made.withLock { $0 += 1 }
        return ProcSnapshot()
    }

    func cachedSnapshot() -> ProcSnapshot? { ProcSnapshot() }

    func invalidate() {}
}

/// A process view that, asked, takes the registry's listing as the host's pass does (the one under
/// way, else the one kept) since `since`, and keeps what it got (nil inside: none).
private final class ListingView: ProcessView {
    let registry = Mutex<SectionRegistry?>(nil)
    let since = Mutex(-Double.infinity)
    let seen = Mutex<DirectoryListing??>(nil)

    func snapshot() -> ProcSnapshot {
        let registry = registry.withLock { $0 }
        let since = since.withLock { $0 }
        let listing = registry?.listingUnderWay(since: since)?.wait() ?? registry?.recentListing(since: since)
        seen.withLock { $0 = .some(listing) }
        return ProcSnapshot()
    }

    func invalidate() {}
}
