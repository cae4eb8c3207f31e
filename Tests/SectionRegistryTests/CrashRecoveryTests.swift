import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// What a crash (kill -9, power loss of the process) leaves behind, and how the next start repairs it.
@Suite("Crash recovery")
struct CrashRecoveryTests {
    static func files(_ state: String, _ folder: String = "records") -> [String] {
        PersistenceTests.files(state, folder)
    }

    static func recordPath(_ state: String, _ name: String) -> String { PersistenceTests.recordPath(state, name) }

    static func deadPid() throws -> Int32 { try PersistenceTests.deadPid() }

    @Test("half-written temporary record files from a crash are removed at start")
    func staleTemporaryRecords() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let first = try box.registry(stateDirectory: state)
        let name = try box.sectionName("kept")
        try first.make(name, reserve: page)
        let dead = try Self.deadPid()
        let temporary = state + "/records/.tmp-\(dead)-7"
        try "{\"version\":1,\"name\":\"half".write(toFile: temporary, atomically: false, encoding: .utf8)
        let second = try box.registry(stateDirectory: state)
        #expect(!fileExists(temporary))
        #expect(second.startupReport.corrupt.isEmpty)
        #expect(second.startupReport.recovered == [name.value])
    }

    @Test("a delete interrupted after its record said deleting is finished at start")
    func interruptedDelete() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let first = try box.registry(stateDirectory: state)
        let name = try box.sectionName("deleting")
        try first.make(name, reserve: page)
        var record = try #require(first.record(name.value))
        record.phase = .deleting
        try RecordStore(path: state).save(record)
        let second = try box.registry(stateDirectory: state)
        #expect(!fileExists(box.path("deleting")))
        #expect(!fileExists(Self.recordPath(state, name.value)))
        #expect(second.startupReport.repaired.contains { $0.hasPrefix(name.value) })
        expectError(.notFound) { try second.section(named: name) }
    }

    @Test("an interrupted delete does not remove a different object that took the name since")
    func interruptedDeleteOfReplacedObject() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let first = try box.registry(stateDirectory: state)
        let name = try box.sectionName("replaced")
        try first.make(name, reserve: page)
        var record = try #require(first.record(name.value))
        record.phase = .deleting
        try RecordStore(path: state).save(record)
        unlink(box.path("replaced"))
        try makeFile(box.path("filler"), size: 1)  // keep the old inode number from coming back
        try makeFile(box.path("replaced"), size: 123)
        #expect(UInt64(fileStatus(box.path("replaced"))?.st_ino ?? 0) != record.inode)
        let second = try box.registry(stateDirectory: state)
        #expect(fileStatus(box.path("replaced"))?.st_size == 123, "someone else's object stays")
        #expect(try !second.section(named: name).managed)
    }

    @Test(
        "a create interrupted before its rename is rolled back: record and temporary object go",
        arguments: [SectionRecord.Phase.creating, .ready])
    func interruptedCreate(_ phase: SectionRecord.Phase) throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        _ = try box.registry(stateDirectory: state)
        // The crashed creator's pid is dead. For a `ready` record a live one keeps the registries
        // other tests start meanwhile from removing the temporary first (see the next test); a
        // `creating` record whose temporary belongs to a live process is a create in flight, which a
        // start leaves alone (SharedStateTests), so that one names a dead creator (a registry
        // removing its temporary first makes no difference there: the record is rolled back either way).
        let bystander = try PythonPeer()
        defer { bystander.stop() }
        let creator = phase == .creating ? try Self.deadPid() : bystander.pid
        let temporary = Sandbox.shm + "/" + SectionRegistry.temporaryPrefix + "\(creator)-1-" + box.name("t")
        try makeFile(temporary, size: Int(page))
        let inode = UInt64(try #require(fileStatus(temporary)).st_ino)
        let name = try box.sectionName("half")
        let record = SectionRecord(
            name: name.value, reserve: page, namespace: .local, labels: [:], createdAt: 1, createdBy: "crashed",
            adopted: false, phase: phase, inode: inode)
        try RecordStore(path: state).save(record)
        let second = try box.registry(stateDirectory: state)
        #expect(!fileExists(temporary))
        #expect(!fileExists(Self.recordPath(state, name.value)))
        #expect(second.startupReport.repaired.contains { $0.hasPrefix(name.value) })
        #expect(second.startupReport.missing.isEmpty)
        expectError(.notFound) { try second.section(named: name) }
    }

    @Test("a crashed create whose temporary another registry removed first must not come back as a missing section")
    func interruptedCreateAfterOtherRegistryCleaned() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        _ = try box.registry(stateDirectory: state)
        let dead = try Self.deadPid()
        let temporary = Sandbox.shm + "/" + SectionRegistry.temporaryPrefix + "\(dead)-1-" + box.name("t")
        try makeFile(temporary, size: Int(page))
        let inode = UInt64(try #require(fileStatus(temporary)).st_ino)
        let name = try box.sectionName("phantom")
        let record = SectionRecord(
            name: name.value, reserve: page, namespace: .local, labels: [:], createdAt: 1, createdBy: "crashed",
            adopted: false, phase: .creating, inode: inode)
        try RecordStore(path: state).save(record)
        // Another registry (another server on the host, another test) starts first and removes the
        // dead process's temporary.
        _ = try box.registry()
        #expect(!fileExists(temporary))
        let restarted = try box.registry(stateDirectory: state)
        // The create was never acknowledged: its record still says `creating` and no object has its
        // inode, so the start rolls it back instead of reporting a missing section.
        #expect(restarted.startupReport.missing.isEmpty)
        #expect(restarted.startupReport.repaired.contains { $0.hasPrefix(name.value) })
        #expect(throws: SectionError.self) { try restarted.section(named: name) }
        #expect(!fileExists(Self.recordPath(state, name.value)))
    }

    @Test("a create interrupted after its rename but before its record said ready is finished at start")
    func interruptedCreateAfterRename() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let name = try box.sectionName("renamed")
        try makeFile(box.path("renamed"), size: Int(page))
        let inode = UInt64(try #require(fileStatus(box.path("renamed"))).st_ino)
        let record = SectionRecord(
            name: name.value, reserve: 4 * page, namespace: .local, labels: ["k": "v"], createdAt: 1,
            createdBy: "crashed", adopted: false, phase: .creating, inode: inode)
        try RecordStore(path: state).save(record)
        let restarted = try box.registry(stateDirectory: state)
        let info = try restarted.section(named: name)
        #expect(info.managed && info.reserve == 4 * page && info.labels == ["k": "v"])
        #expect(restarted.startupReport.missing.isEmpty)
    }

    @Test("temporary objects of dead processes are removed at start; a live process's are not")
    func orphanTemporaries() throws {
        let box = try Sandbox()
        defer { box.close() }
        let dead = try Self.deadPid()
        let live = try PythonPeer()
        defer { live.stop() }
        let deadTemporary = Sandbox.shm + "/" + SectionRegistry.temporaryPrefix + "\(dead)-1-" + box.name("x")
        let liveTemporary = Sandbox.shm + "/" + SectionRegistry.temporaryPrefix + "\(live.pid)-1-" + box.name("y")
        try makeFile(deadTemporary, size: Int(page))
        try makeFile(liveTemporary, size: Int(page))
        let registry = try box.registry()
        #expect(!fileExists(deadTemporary))
        #expect(fileExists(liveTemporary), "a create in progress in another process")
        #expect(try registry.list(ListFilter(query: box.prefix)).total == 0, "temporaries are never listed")
    }

    @Test(
        "kill -9 at a random instant while creating and deleting loses no acknowledged change",
        arguments: [0, 1, 2])
    func killNineMidWrite(_ round: Int) async throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let log = "/tmp/\(box.prefix)ack.log"
        defer { unlink(log) }
        let prefix = box.prefix
        let delayMicroseconds = UInt32(50_000 + 150_000 * round + Int.random(in: 0..<50_000))
        await #expect(processExitsWith: .signal(SIGKILL)) {
            [
                state = state as String, log = log as String, prefix = prefix as String,
                delay = delayMicroseconds as UInt32
            ] in
            let registry = try SectionRegistry(
                configuration: .init(stateDirectory: state, watchDirectory: false))
            let acknowledged = open(log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            func note(_ line: String) { _ = (line + "\n").withCString { write(acknowledged, $0, strlen($0)) } }
            note("pid \(getpid())")
            let killer = Thread {
                usleep(delay)
                kill(getpid(), SIGKILL)
            }
            for index in 0..<100_000 {
                if index == 1 { killer.start() }  // once a first create is acknowledged
                let name = try SectionName(prefix + "k\(index)")
                _ = try registry.create(
                    CreateRequest(name: name, reserve: 4 * 4096, commit: 4096, labels: ["i": String(index)]))
                note("+" + name.value)
                if index % 3 == 1 {
                    try registry.delete(named: name)
                    note("-" + name.value)
                }
            }
            sleep(60)  // not reached: the killer fires first
        }
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        let child = lines.first { $0.hasPrefix("pid ") }.map { String($0.dropFirst(4)) } ?? "?"
        let childTemporaries = {
            ((try? FileManager.default.contentsOfDirectory(atPath: Sandbox.shm)) ?? [])
                .filter { $0.hasPrefix(SectionRegistry.temporaryPrefix + child + "-") }
        }
        defer { for name in childTemporaries() { unlink(Sandbox.shm + "/" + name) } }
        let created = Set(lines.filter { $0.hasPrefix("+") }.map { String($0.dropFirst()) })
        let deleted = Set(lines.filter { $0.hasPrefix("-") }.map { String($0.dropFirst()) })
        #expect(!created.isEmpty, "the child acknowledged some creates before it was killed")
        print("kill -9 round \(round): \(created.count) creates and \(deleted.count) deletes acknowledged")
        let registry = try box.registry(stateDirectory: state)
        #expect(registry.startupReport.corrupt.isEmpty)
        #expect(Set(registry.startupReport.missing).isDisjoint(with: created))
        // A create killed between its record and its rename is rolled back, whoever removed its temporary.
        #expect(registry.startupReport.missing.isEmpty)
        // Every third section is deleted right after its create; the kill may land inside that delete,
        // which was never acknowledged and so may or may not have happened (the start finishes a
        // delete whose record says `deleting`). Any section still there must be complete.
        let deleteInFlight = created.subtracting(deleted).filter { Int($0.split(separator: "k").last ?? "")! % 3 == 1 }
        #expect(deleteInFlight.count <= 1, "only the last delete can have been cut short")
        for name in created.subtracting(deleted) {
            guard let info = try? registry.section(named: SectionName(name)) else {
                #expect(deleteInFlight.contains(name), "\(name) was acknowledged and is gone")
                continue
            }
            #expect(info.managed && info.state == .ok, "\(name) was acknowledged")
            #expect(info.labels["i"] == String(name.split(separator: "k").last ?? ""))
        }
        for name in deleted {
            expectError(.notFound) { try registry.section(named: SectionName(name)) }
        }
        // Nothing half-made: every object of the child is a managed section, no temporaries, no temp records.
        let objects = box.leftovers()
        #expect(childTemporaries().isEmpty, "the start removed the dead child's temporaries")
        for object in objects {
            #expect(registry.record(object) != nil, "\(object) has its record")
        }
        // Files kept for reuse (`.free-`) are whole records of nothing; a start removes the old ones and
        // may keep those of the deletes it finished.
        #expect(!PersistenceTests.recordFiles(state).contains { $0.hasPrefix(".") })
        #expect(PersistenceTests.recordFiles(state).count == objects.count + registry.startupReport.missing.count)
    }
}
