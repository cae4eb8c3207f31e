import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Create or open")
struct CreateTests {
    @Test("create makes the object with its commit allocated up front, and a record")
    func createNew() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("orders")
        let (info, created) = try registry.create(
            CreateRequest(name: name, reserve: 1 * MiB, commit: 256 * KiB, labels: ["app": "matcher"], creator: "test"))
        #expect(created)
        #expect(info.name == name.value)
        #expect(info.kind == .shm)
        #expect(info.managed)
        #expect(info.state == .ok)
        #expect(info.namespace == .local)
        #expect(info.path == box.path("orders"))
        #expect(info.reserve == 1 * MiB)
        #expect(info.commit == 256 * KiB)
        #expect(info.labels == ["app": "matcher"])
        #expect(info.mode == 0o600)
        #expect(info.dataBytes == 0)
        let status = try #require(fileStatus(box.path("orders")))
        #expect(status.st_size == 256 * KiB)
        #expect(Int64(status.st_blocks) * 512 == 256 * KiB, "fallocate committed every page")
        #expect(info.allocatedBytes == 256 * KiB)
        #expect(UInt64(status.st_ino) == info.inode)
        #expect(registry.record(name.value)?.createdBy == "test")
    }

    @Test("the commit defaults to the whole reserve")
    func commitDefaultsToReserve() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let info = try registry.make(box.sectionName("plain"), reserve: 3 * page)
        #expect(info.commit == 3 * page)
        #expect(info.reserve == 3 * page)
        #expect(info.allocatedBytes == 3 * page)
    }

    @Test("creating an existing name opens it: created false, nothing changed")
    func openExisting() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("twice")
        let first = try registry.create(
            CreateRequest(name: name, reserve: 16 * page, commit: 2 * page, labels: ["a": "1"]))
        try registry.write(named: name, offset: 0, Array("keep"))
        let second = try registry.create(
            CreateRequest(name: name, reserve: 64 * page, commit: 8 * page, labels: ["b": "2"]))
        #expect(first.created)
        #expect(!second.created)
        #expect(second.section.inode == first.section.inode)
        #expect(second.section.reserve == 16 * page)
        #expect(second.section.commit == 2 * page)
        #expect(second.section.labels == ["a": "1"])
        #expect(try registry.read(named: name, offset: 0, length: 4) == Array("keep"))
    }

    @Test("exclusive create of an existing name is .exists and leaves it alone")
    func exclusiveExisting() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("excl")
        let made = try registry.create(CreateRequest(name: name, reserve: 4 * page, exclusive: true))
        #expect(made.created)
        let error = expectError(.exists) {
            try registry.create(CreateRequest(name: name, reserve: 8 * page, exclusive: true))
        }
        #expect(error?.section == name.value)
        #expect(error?.message.contains(name.value) == true)
        #expect(fileStatus(box.path("excl"))?.st_size == Int(4 * page))
        #expect(UInt64(fileStatus(box.path("excl"))?.st_ino ?? 0) == made.section.inode)
    }

    @Test("create of a foreign object's name opens it without adopting or changing it")
    func openForeign() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        try makeFile(box.path("foreign"), size: 1000)
        let (info, created) = try registry.create(CreateRequest(name: box.sectionName("foreign"), reserve: 64 * page))
        #expect(!created)
        #expect(!info.managed)
        #expect(info.reserve == nil)
        #expect(info.commit == 1000)
        #expect(fileStatus(box.path("foreign"))?.st_size == 1000)
        expectError(.exists) {
            try registry.create(CreateRequest(name: box.sectionName("foreign"), reserve: 64 * page, exclusive: true))
        }
    }

    @Test("without a name a unique one is generated")
    func generatedNames() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        var names: [String] = []
        defer { for name in names { unlink(Sandbox.shm + "/" + name) } }
        for _ in 0..<4 {
            let (info, created) = try registry.create(CreateRequest(name: nil, reserve: page))
            names.append(info.name)
            #expect(created)
            #expect(info.managed)
            #expect(fileExists(info.path))
        }
        #expect(Set(names).count == names.count)
        for name in names {
            #expect(name.hasPrefix("shm-"))
            #expect(name.count == 20)
            #expect(name.dropFirst(4).allSatisfy { $0.isHexDigit })
            try registry.delete(named: SectionName(name))
            #expect(!fileExists(Sandbox.shm + "/" + name))
        }
    }

    @Test("namespaces: local is 0600 and global 0666 whatever the umask")
    func namespaceModes() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let previous = umask(0o077)
        defer { umask(previous) }
        let global = try registry.make(box.sectionName("global"), reserve: page, namespace: .global)
        let local = try registry.make(box.sectionName("local"), reserve: page, namespace: .local)
        umask(0o022)
        let global022 = try registry.make(box.sectionName("global022"), reserve: page, namespace: .global)
        #expect(global.namespace == .global)
        #expect(global.mode == 0o666)
        #expect(local.namespace == .local)
        #expect(local.mode == 0o600)
        #expect(global022.mode == 0o666)
        #expect((fileStatus(box.path("global"))?.st_mode ?? 0) & 0o7777 == 0o666)
        #expect((fileStatus(box.path("global022"))?.st_mode ?? 0) & 0o7777 == 0o666)
        #expect((fileStatus(box.path("local"))?.st_mode ?? 0) & 0o7777 == 0o600)
    }

    @Test("a commit larger than the whole tmpfs is .pastCapacity and leaves no object, temporary or record")
    func commitTooLarge() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let registry = try box.registry(stateDirectory: state)
        let capacity = shmCapacity()
        try #require(capacity.total > 0)
        let tooMuch = capacity.total + GiB
        #expect(tooMuch > capacity.free)
        let usedBefore = shmCapacity().total - shmCapacity().free
        let error = expectError(.pastCapacity) {
            try registry.make(box.sectionName("huge"), reserve: tooMuch)
        }
        #expect(error?.code == .pastCapacity(filesystemBytes: capacity.total))
        #expect(error?.systemCall == nil)
        #expect(error?.message.contains(box.name("huge")) == true)
        #expect(!fileExists(box.path("huge")))
        #expect(try registry.list(ListFilter(query: box.prefix)).total == 0)
        expectError(.notFound) { try registry.section(named: box.sectionName("huge")) }
        // No temporary of this process stays behind (other tests' in-flight ones vanish on their own).
        let temporaries = ((try? FileManager.default.contentsOfDirectory(atPath: Sandbox.shm)) ?? [])
            .filter { $0.hasPrefix(SectionRegistry.temporaryPrefix + "\(getpid())-") }
        #expect(eventually(timeout: 3) { !temporaries.contains { fileExists(Sandbox.shm + "/" + $0) } })
        let records = (try? FileManager.default.contentsOfDirectory(atPath: state + "/records")) ?? ["?"]
        #expect(records.isEmpty)
        #expect(shmCapacity().total - shmCapacity().free <= usedBefore + 64 * MiB, "nothing stayed allocated")
    }

    @Test(
        "bad labels are refused before anything is made",
        arguments: [
            ["": "empty key"],
            [String(repeating: "k", count: 64): "64-byte key"],
            ["k": String(repeating: "v", count: 256)],
            Dictionary(uniqueKeysWithValues: (0..<65).map { ("k\($0)", "v") }),
        ])
    func badLabels(_ labels: [String: String]) throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        expectError(.invalidArgument) {
            try registry.create(CreateRequest(name: box.sectionName("labels"), reserve: page, labels: labels))
        }
        #expect(box.leftovers().isEmpty)
    }

    @Test("the largest labels allowed are kept")
    func largestLabels() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        var labels = Dictionary(uniqueKeysWithValues: (0..<63).map { ("k\($0)", "v") })
        labels[String(repeating: "k", count: 63)] = String(repeating: "v", count: 255)
        let (info, _) = try registry.create(
            CreateRequest(name: box.sectionName("labels"), reserve: page, labels: labels))
        #expect(info.labels == labels)
    }

    @Test("a python process attaches to a new section by name and sees its size")
    func pythonAttaches() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        try registry.make(box.sectionName("py"), reserve: 8 * page, commit: 3 * page)
        let peer = try PythonPeer()
        defer { peer.stop() }
        #expect(try peer.run("attach \(box.name("py"))") == String(3 * page))
    }
}
