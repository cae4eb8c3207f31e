import Dispatch
import Testing

@testable import SectionRegistry

@Suite("Name locks")
struct NameLockTests {
    @Test("a name's lock is forgotten when its last user is done: the table does not grow with every name")
    func locksOfNamesNoLongerInUseAreForgotten() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        for index in 0..<50 {
            let name = try box.sectionName("n\(index)")
            try registry.make(name, reserve: page, commit: page)
            _ = try registry.grow(named: name, .commit(page))
            try registry.delete(named: name)
        }
        #expect(registry.nameLocksInUse == 0)
    }

    @Test("callers of one name still take turns while the table forgets idle names")
    func oneNameStillSerialised() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("shared")
        try registry.make(name, reserve: 64 * page, commit: page)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<4 { _ = try? registry.grow(named: name, .by(page)) }
        }
        #expect(try registry.section(named: name).commit == 33 * page, "every grow counted exactly once")
        #expect(registry.nameLocksInUse == 0)
    }
}
