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

    private func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
