import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Concurrency")
struct ConcurrencyTests {
    @Test("grows by an amount from 8 threads sum exactly and never pass the reserve")
    func concurrentGrows() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("grow")
        try registry.make(name, reserve: 30 * page, commit: 0)
        let commits = Locked<[Int64]>([])
        let refusals = Locked<[SectionError.Kind]>([])
        try onThreads(8) { _ in
            for _ in 0..<5 {
                do throws(SectionError) {
                    let info = try registry.grow(named: name, .by(page))
                    commits.update { $0.append(info.commit) }
                } catch {
                    refusals.update { $0.append(error.kind) }
                }
            }
        }
        #expect(commits.value.count == 30)
        #expect(Set(commits.value) == Set((1...30).map { Int64($0) * page }), "each grow saw its own commit")
        #expect(refusals.value == [SectionError.Kind](repeating: .pastReserve, count: 10))
        #expect(fileStatus(box.path("grow"))?.st_size == Int(30 * page))
        #expect(try registry.section(named: name).commit == 30 * page)
        #expect(try registry.section(named: name).allocatedBytes == 30 * page)
    }

    @Test("8 threads creating one name: exactly one creates it, the others open it (or get .exists)")
    func concurrentCreatesOfOneName() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        for exclusive in [false, true] {
            let name = try box.sectionName("same-\(exclusive)")
            let outcomes = Locked<[String]>([])
            let inodes = Locked<Set<UInt64>>([])
            try onThreads(8) { _ in
                do throws(SectionError) {
                    let (info, created) = try registry.create(
                        CreateRequest(name: name, reserve: 4 * page, exclusive: exclusive))
                    outcomes.update { $0.append(created ? "created" : "opened") }
                    inodes.update { _ = $0.insert(info.inode) }
                } catch {
                    outcomes.update { $0.append("\(error.kind)") }
                }
            }
            let counted = Dictionary(outcomes.value.map { ($0, 1) }, uniquingKeysWith: +)
            #expect(counted == ["created": 1, exclusive ? "exists" : "opened": 7], "exclusive: \(exclusive)")
            #expect(inodes.value.count == 1)
        }
        #expect(box.leftovers().count == 2)
    }

    @Test("8 threads creating different names all succeed, each with its record")
    func concurrentCreatesOfManyNames() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let registry = try box.registry(stateDirectory: state)
        let failures = Locked<[String]>([])
        try onThreads(8) { thread in
            for index in 0..<6 {
                do {
                    try registry.make(try box.sectionName("t\(thread)-\(index)"), reserve: page)
                } catch {
                    failures.update { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.value.isEmpty)
        #expect(try registry.list(ListFilter(query: box.prefix)).total == 48)
        #expect(try box.registry(stateDirectory: state).startupReport.recovered.count == 48)
    }

    @Test("two registries of one process create at the same time without taking each other's temporaries")
    func twoRegistriesCreating() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registries = [try box.registry(), try box.registry()]
        let failures = Locked<[String]>([])
        try onThreads(8) { thread in
            for index in 0..<5 {
                do {
                    try registries[thread % 2].make(try box.sectionName("r\(thread)-\(index)"), reserve: page)
                } catch {
                    failures.update { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.value.isEmpty)
        #expect(box.leftovers().count == 40)
    }

    @Test("a registry starting while another creates does not remove its create in flight")
    func registryStartDuringCreates() throws {
        let box = try Sandbox()
        defer { box.close() }
        let creator = try box.registry()
        let failures = Locked<[String]>([])
        let done = Locked(false)
        try onThreads(2) { thread in
            if thread == 0 {
                for index in 0..<40 {
                    do {
                        try creator.make(try box.sectionName("c\(index)"), reserve: 64 * page)
                    } catch {
                        failures.update { $0.append("\(error)") }
                    }
                }
                done.update { $0 = true }
            } else {
                for _ in 0..<200 where !done.value {
                    if let started = try? box.registry() { started.close() }
                }
            }
        }
        #expect(failures.value.isEmpty)
        #expect(box.leftovers().count == 40)
    }

    @Test("8 threads writing distinct ranges: every byte lands")
    func concurrentWrites() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("w")
        try registry.make(name, reserve: 8 * 100 * 64)
        let view = try registry.mapView(named: name, access: .rw)
        try onThreads(8) { thread in
            for index in 0..<100 {
                let bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: thread * 100 + index), count: 64)
                let offset = Int64((thread * 100 + index) * 64)
                if index % 2 == 0 {
                    _ = try? registry.write(named: name, offset: offset, bytes)
                } else {
                    _ = try? registry.writeView(named: name, id: view.id, offset: offset, bytes)
                }
            }
        }
        let all = try registry.read(named: name, offset: 0, length: 8 * 100 * 64)
        for slot in 0..<800 {
            #expect(all[(slot * 64)..<(slot * 64 + 64)].allSatisfy { $0 == UInt8(slot & 0xff) }, "slot \(slot)")
        }
    }

    @Test("exclusive leases from 8 threads exclude each other")
    func concurrentLeases() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("l")
        try registry.make(name, reserve: page)
        let inside = Locked(0)
        let most = Locked(0)
        let taken = Locked(0)
        try onThreads(8) { _ in
            for _ in 0..<5 {
                guard let lease = try? registry.acquireLease(named: name, mode: .exclusive, timeout: 20, ttl: 60) else {
                    continue
                }
                let now = inside.update { value -> Int in
                    value += 1
                    return value
                }
                most.update { $0 = max($0, now) }
                usleep(1_000)
                inside.update { $0 -= 1 }
                taken.update { $0 += 1 }
                try? registry.releaseLease(named: name, lease: lease.id)
            }
        }
        #expect(taken.value == 40)
        #expect(most.value == 1)
    }

    @Test("readers (list, detail, page map, views) run beside writers, growers and deleters")
    func mixedTraffic() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let names = try (0..<4).map { try box.sectionName("m\($0)") }
        for name in names { try registry.make(name, reserve: 64 * page, commit: page) }
        let unexpected = Locked<[String]>([])
        let expectedCodes: Set<SectionError.Kind> = [.notFound, .pastReserve, .exists, .viewNotFound, .outOfRange]
        try onThreads(8) { thread in
            let deadline = Date().addingTimeInterval(2)
            var round = 0
            while Date() < deadline && round < 500 {
                round += 1
                let name = names[(thread + round) % names.count]
                do {
                    switch (thread + round) % 8 {
                    case 0: _ = try registry.list(ListFilter(query: box.prefix))
                    case 1: _ = try registry.detail(named: name)
                    case 2: _ = try registry.pageMap(named: name)
                    case 3: _ = try registry.grow(named: name, .by(page))
                    case 4: try registry.write(named: name, offset: 0, Array("traffic"))
                    case 5:
                        let view = try registry.mapView(named: name, access: .ro)
                        _ = try registry.readView(named: name, id: view.id, offset: 0, length: 7)
                        try registry.unmapView(named: name, id: view.id)
                    case 6:
                        if round % 10 == 0 {
                            try registry.delete(named: name)
                            try registry.make(name, reserve: 64 * page, commit: page)
                        }
                    default: _ = registry.systemInfo()
                    }
                } catch let error as SectionError where expectedCodes.contains(error.kind) {
                    // A race with a delete or a full reserve: a correct answer.
                } catch {
                    unexpected.update { $0.append("\(error)") }
                }
            }
        }
        #expect(unexpected.value.isEmpty, "\(unexpected.value.prefix(5))")
        #expect(!box.leftovers().contains { $0.hasPrefix(SectionRegistry.temporaryPrefix) })
    }
}
