import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Persistence and reconcile")
struct PersistenceTests {
    /// Files in a state directory's `records/` (or `corrupt/`).
    static func files(_ state: String, _ folder: String = "records") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: state + "/" + folder)) ?? []).sorted()
    }

    /// `files(state)` without the record files kept for reuse (`RecordStore.freePrefix`).
    static func recordFiles(_ state: String) -> [String] {
        files(state).filter { !$0.hasPrefix(RecordStore.freePrefix) }
    }

    static func recordPath(_ state: String, _ name: String) -> String {
        state + "/records/" + SHA256.hex(of: name) + ".json"
    }

    /// The pid of a process that has exited (a python that came and went).
    static func deadPid() throws -> Int32 {
        let peer = try PythonPeer()
        let pid = peer.pid
        peer.exit()
        #expect(kill(pid, 0) != 0 && errno == ESRCH)
        return pid
    }

    @Test("a new registry over the same state directory recovers every record")
    func recoverEverything() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let first = try box.registry(stateDirectory: state)
        let requests = [
            CreateRequest(name: try box.sectionName("a"), reserve: 64 * GiB, commit: page, labels: ["tier": "gold"]),
            CreateRequest(
                name: try box.sectionName("b"), reserve: 10 * page, namespace: .global, creator: "api 127.0.0.1"),
            CreateRequest(name: try box.sectionName("c"), reserve: page, commit: 0, labels: ["x": "1", "y": "ü"]),
        ]
        var made: [SectionInfo] = []
        for request in requests { made.append(try first.create(request).section) }
        try first.write(named: box.sectionName("a"), offset: 0, Array("survives"))
        let second = try box.registry(stateDirectory: state)
        #expect(second.startupReport.recovered.sorted() == made.map(\.name).sorted())
        #expect(second.startupReport.missing.isEmpty)
        #expect(second.startupReport.corrupt.isEmpty)
        #expect(second.startupReport.repaired.isEmpty)
        for (request, original) in zip(requests, made) {
            let name = try #require(request.name)
            let info = try second.section(named: name)
            #expect(info.managed)
            #expect(info.state == .ok)
            #expect(info.reserve == original.reserve)
            #expect(info.commit == original.commit)
            #expect(info.namespace == request.namespace)
            #expect(info.labels == request.labels)
            #expect(info.createdAt == original.createdAt)
            #expect(second.record(name.value)?.createdBy == request.creator)
            #expect(second.record(name.value) == first.record(name.value))
        }
        #expect(try second.read(named: box.sectionName("a"), offset: 0, length: 8) == Array("survives"))
        // The reserve still limits grows after the restart.
        expectError(.pastReserve) { try second.grow(named: box.sectionName("b"), .by(page)) }
        #expect(Self.files(state).allSatisfy { $0.hasSuffix(".json") && !$0.hasPrefix(".") })
        #expect(Self.files(state).count == 3)
    }

    @Test(
        "a corrupt record is set aside and reported, never fatal",
        arguments: [
            "garbage", "empty", "truncated", "wrong file name", "invalid name", "unknown phase", "not an object",
        ])
    func corruptRecord(_ kind: String) throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let first = try box.registry(stateDirectory: state)
        let good = try box.sectionName("good")
        let bad = try box.sectionName("bad")
        try first.make(good, reserve: page)
        try first.make(bad, reserve: page)
        let path = Self.recordPath(state, bad.value)
        let valid = try String(contentsOfFile: path, encoding: .utf8)
        let text: String
        switch kind {
        case "garbage": text = "\u{0}\u{1}not json at all"
        case "empty": text = ""
        case "truncated": text = String(valid.prefix(valid.count / 2))
        case "wrong file name": text = valid.replacingOccurrences(of: bad.value, with: good.value)
        case "invalid name": text = valid.replacingOccurrences(of: bad.value, with: "a/b")
        case "unknown phase": text = valid.replacingOccurrences(of: "\"ready\"", with: "\"exploding\"")
        default: text = "[1, 2, 3]"
        }
        #expect(text != valid)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let second = try box.registry(stateDirectory: state)
        let file = SHA256.hex(of: bad.value) + ".json"
        #expect(second.startupReport.corrupt == [file])
        #expect(second.startupReport.recovered == [good.value])
        #expect(!fileExists(path), "set aside")
        #expect(Self.files(state, "corrupt").count == 1)
        #expect(Self.files(state, "corrupt").first?.hasPrefix(file) == true)
        #expect(try second.section(named: good).managed)
        #expect(try !second.section(named: bad).managed, "its object is foreign now, and still there")
        // A third start does not report it again.
        #expect(try box.registry(stateDirectory: state).startupReport.corrupt.isEmpty)
    }

    @Test("a record whose object is gone is state .missing, listed, and can be made again")
    func missingObject() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let first = try box.registry(stateDirectory: state)
        let name = try box.sectionName("gone")
        try first.make(name, reserve: 8 * page, namespace: .global)
        unlink(box.path("gone"))  // e.g. a reboot emptied /dev/shm
        let second = try box.registry(stateDirectory: state)
        #expect(second.startupReport.missing == [name.value])
        #expect(second.startupReport.recovered.isEmpty)
        let info = try second.section(named: name)
        #expect(info.state == .missing)
        #expect(info.managed)
        #expect(info.reserve == 8 * page)
        #expect(info.namespace == .global)
        #expect(info.commit == 0)
        let listed = try second.list(ListFilter(query: box.prefix)).sections
        #expect(listed.map(\.state) == [.missing])
        #expect(second.systemInfo().counts.missing >= 1)
        expectError(.notFound) { try second.read(named: name, offset: 0, length: 1) }
        expectError(.notFound) { try second.grow(named: name, .by(page)) }
        expectError(.notFound) { try second.mapView(named: name, access: .ro) }
        #expect(try second.detail(named: name).lockHolders.isEmpty)
        let (again, created) = try second.create(CreateRequest(name: name, reserve: 2 * page))
        #expect(created)
        #expect(again.state == .ok)
        #expect(again.reserve == 2 * page)
    }
}
