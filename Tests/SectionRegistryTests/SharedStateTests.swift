import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// Two processes sharing one state directory (a server, and `shm-admin` in local mode): what one
/// creates or deletes is managed, or forgotten, by the other as soon as its directory watcher sees it.
@Suite("Shared state directory")
struct SharedStateTests {
    @Test("a section another registry creates is managed here; one it deletes is forgotten, not missing")
    func followsAnotherRegistry() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let watching = try box.registry(stateDirectory: state, watch: true)
        let other = try box.registry(stateDirectory: state)
        let name = try box.sectionName("shared")

        _ = try other.make(name, reserve: 4 * page, commit: page)
        #expect(eventually { (try? watching.section(named: name))?.managed == true })
        let seen = try watching.section(named: name)
        #expect(seen.reserve == 4 * page && seen.state == .ok)

        try other.delete(named: name)
        #expect(eventually { (try? watching.section(named: name)) == nil })
        #expect(try watching.list(ListFilter(query: box.prefix)).total == 0)
    }

    @Test("a foreign object made by a plain process stays foreign; a record without its object stays missing")
    func foreignAndMissingAreUnchanged() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let watching = try box.registry(stateDirectory: state, watch: true)
        let other = try box.registry(stateDirectory: state)
        try makeFile(box.path("plain"), size: 4096)
        let plain = try box.sectionName("plain")
        let name = try box.sectionName("kept")
        _ = try other.make(name, reserve: page)
        #expect(eventually { (try? watching.section(named: name))?.managed == true })
        unlink(box.path("kept"))  // removed behind both registries' backs: the record stays
        #expect(eventually { (try? watching.section(named: name))?.state == .missing })
        #expect(try watching.section(named: plain).managed == false)
    }

    @Test("a registry starting beside a create in flight in another live process leaves it alone")
    func startDoesNotRollBackAnotherProcesssCreate() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let live = try PythonPeer()
        defer { live.stop() }
        // What another process's create leaves between its `creating` record and its rename.
        let temporary = Sandbox.shm + "/" + SectionRegistry.temporaryPrefix + "\(live.pid)-1-" + box.name("t")
        try makeFile(temporary, size: Int(page))
        let inode = UInt64(try #require(fileStatus(temporary)).st_ino)
        let name = try box.sectionName("inflight")
        let record = SectionRecord(
            name: name.value, reserve: page, namespace: .local, labels: [:], createdAt: 1, createdBy: "live",
            adopted: false, phase: .creating, inode: inode)
        try RecordStore(path: state).save(record)
        let started = try box.registry(stateDirectory: state)
        #expect(fileExists(temporary), "the live process's temporary was removed")
        #expect(fileExists(CrashRecoveryTests.recordPath(state, name.value)), "its record was rolled back")
        #expect(!started.startupReport.repaired.contains { $0.hasPrefix(name.value) })
        unlink(temporary)
    }

    private func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
