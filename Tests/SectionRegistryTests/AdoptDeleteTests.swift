import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Adopt and delete")
struct AdoptDeleteTests {
    @Test("adopting a python-made section makes it managed, recorded and growable")
    func adoptPythonSection() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let registry = try box.registry(stateDirectory: state)
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.run("create \(box.name("py")) 10000")
        try peer.run("write 9000 " + Array("python data").hex)
        let name = try box.sectionName("py")
        expectError(.notManaged) { try registry.grow(named: name, .by(page)) }
        let info = try registry.adopt(named: name, labels: ["from": "python"], creator: "test")
        #expect(info.managed)
        #expect(info.reserve == 3 * page, "the reserve defaults to the commit, in pages")
        #expect(info.commit == 10000, "adoption changes nothing in the object")
        #expect(info.namespace == .local)
        #expect(info.mode == 0o600)
        #expect(info.labels == ["from": "python"])
        #expect(registry.record(name.value)?.adopted == true)
        #expect(registry.record(name.value)?.createdBy == "test")
        #expect(try registry.grow(named: name, .commit(3 * page)).commit == 3 * page)
        expectError(.pastReserve) { try registry.grow(named: name, .by(page)) }
        #expect(try registry.read(named: name, offset: 9000, length: 11) == Array("python data"))
        #expect(try peer.run("read 9000 11") == Array("python data").hex)
        // The adoption survives a restart.
        let restarted = try box.registry(stateDirectory: state)
        #expect(try restarted.section(named: name).managed)
        #expect(try restarted.section(named: name).labels == ["from": "python"])
    }

    @Test("adopt with a reserve and a namespace: the reserve is in pages, the namespace becomes the mode")
    func adoptWithReserveAndNamespace() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        try makeFile(box.path("f"), size: 5000)
        let name = try box.sectionName("f")
        let info = try registry.adopt(named: name, reserve: 10 * page + 1, namespace: .global)
        #expect(info.reserve == 11 * page)
        #expect(info.namespace == .global)
        #expect(info.mode == 0o666)
        #expect((fileStatus(box.path("f"))?.st_mode ?? 0) & 0o777 == 0o666)
        #expect(try registry.grow(named: name, .commit(11 * page)).commit == 11 * page)
        // Without a namespace the mode is left alone and read.
        try makeFile(box.path("g"), size: 10)
        chmod(box.path("g"), 0o640)
        let kept = try registry.adopt(named: box.sectionName("g"))
        #expect(kept.mode == 0o640)
        #expect(kept.namespace == .global, "group-readable is not local")
    }

    @Test("adopt refusals: reserve below the commit, twice, missing, managed, semaphore; nothing recorded")
    func adoptRefusals() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        try makeFile(box.path("f"), size: Int(4 * page))
        let name = try box.sectionName("f")
        expectError(.invalidArgument) { try registry.adopt(named: name, reserve: 2 * page) }
        expectError(.invalidArgument) { try registry.adopt(named: name, reserve: -1) }
        #expect(registry.record(name.value) == nil)
        #expect(try !registry.section(named: name).managed)
        expectError(.invalidArgument) { try registry.adopt(named: name, labels: ["": "x"]) }
        _ = try registry.adopt(named: name)
        expectError(.alreadyManaged) { try registry.adopt(named: name) }
        try registry.make(box.sectionName("m"), reserve: page)
        expectError(.alreadyManaged) { try registry.adopt(named: box.sectionName("m")) }
        expectError(.notFound) { try registry.adopt(named: box.sectionName("nothing")) }
        try makeFile(box.path("empty"), size: 0)
        #expect(try registry.adopt(named: box.sectionName("empty")).reserve == page, "an empty object gets one page")
    }

    @Test("delete is refused with .mappedByOthers naming python's pid while it maps the section; force deletes")
    func deleteWhileMapped() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("d")
        try registry.make(name, reserve: 2 * page)
        try registry.write(named: name, offset: 0, Array("still here"))
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.run("attach \(name)")
        let error = expectError(.mappedByOthers) { try registry.delete(named: name) }
        #expect(error?.pids == [peer.pid])
        #expect(error?.message.contains(name.value) == true)
        #expect(fileExists(box.path("d")))
        #expect(try registry.section(named: name).managed)
        try registry.delete(named: name, force: true)
        #expect(!fileExists(box.path("d")))
        expectError(.notFound) { try registry.section(named: name) }
        #expect(registry.record(name.value) == nil)
        // The object lives on for its mapper until it lets go; python is fine.
        #expect(try peer.run("read 0 10") == Array("still here").hex)
        #expect(peer.isRunning)
    }

    @Test("a read-only mapping whose descriptor is closed still refuses a delete")
    func deleteWhileMappedWithoutDescriptor() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("m")
        try registry.make(name, reserve: 2 * page)
        let peer = try PythonPeer()
        defer { peer.stop() }
        #expect(registry.isOpenByNobodyElse(name))
        try peer.run("maponly \(name)")
        #expect(!registry.isOpenByNobodyElse(name))
        let error = expectError(.mappedByOthers) { try registry.delete(named: name) }
        #expect(error?.pids == [peer.pid])
        try peer.run("close")
        #expect(eventually { registry.isOpenByNobodyElse(name) })
        try registry.delete(named: name)
        #expect(!fileExists(box.path("m")))
        #expect(peer.isRunning)
    }

    @Test("a holder that does not map does not block a delete")
    func deleteWhileHeld() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("d")
        try registry.make(name, reserve: page)
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.run("hold \(name)")
        try registry.delete(named: name)
        #expect(!fileExists(box.path("d")))
    }

    @Test("delete unmaps our own views and ends our leases of the section")
    func deleteTakesViewsAndLeases() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("d")
        try registry.make(name, reserve: 2 * page)
        let view = try registry.mapView(named: name, access: .rw)
        let lease = try registry.acquireLease(named: name, mode: .exclusive, timeout: 1, ttl: 60)
        try registry.delete(named: name)
        #expect(!isMapped(view.address, to: box.path("d")))
        expectError(.viewNotFound) { try registry.readView(named: name, id: view.id, offset: 0, length: 1) }
        expectError(.leaseNotFound) { try registry.releaseLease(named: name, lease: lease.id) }
        // A new section of the same name starts clean and its lock is free.
        try registry.make(name, reserve: page)
        #expect(try registry.views(of: name).isEmpty)
        let fresh = try registry.acquireLease(named: name, mode: .exclusive, timeout: 0, ttl: 60)
        try registry.releaseLease(named: name, lease: fresh.id)
    }

    @Test("delete refusals: foreign and missing names; a managed section whose object vanished is forgotten")
    func deleteRefusals() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let registry = try box.registry(stateDirectory: state)
        try makeFile(box.path("foreign"), size: 10)
        expectError(.notManaged) { try registry.delete(named: box.sectionName("foreign")) }
        expectError(.notManaged) { try registry.delete(named: box.sectionName("foreign"), force: true) }
        #expect(fileExists(box.path("foreign")))
        expectError(.notFound) { try registry.delete(named: box.sectionName("nothing")) }
        let name = try box.sectionName("vanished")
        try registry.make(name, reserve: page)
        unlink(box.path("vanished"))
        #expect(try registry.section(named: name).state == .missing)
        #expect(try registry.missingSections() == [name.value], "a foreign object is never missing")
        try registry.delete(named: name)
        #expect(try registry.missingSections().isEmpty)
        expectError(.notFound) { try registry.section(named: name) }
        #expect(try box.registry(stateDirectory: state).list(ListFilter(query: box.prefix)).total == 1)
    }

    @Test("a deleted section's record is gone after a restart")
    func deletePersists() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let registry = try box.registry(stateDirectory: state)
        let keep = try box.sectionName("keep")
        let drop = try box.sectionName("drop")
        try registry.make(keep, reserve: page)
        try registry.make(drop, reserve: page)
        try registry.delete(named: drop)
        let restarted = try box.registry(stateDirectory: state)
        #expect(restarted.startupReport.recovered == [keep.value])
        #expect(restarted.startupReport.missing.isEmpty)
        expectError(.notFound) { try restarted.section(named: drop) }
    }
}
