import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Grow")
struct GrowTests {
    @Test("grow to a commit allocates the new range and keeps the bytes")
    func growToCommit() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("g")
        try registry.make(name, reserve: 64 * page, commit: page)
        try registry.write(named: name, offset: 10, Array("hello"))
        let grown = try registry.grow(named: name, .commit(10 * page))
        #expect(grown.commit == 10 * page)
        #expect(grown.reserve == 64 * page)
        let status = try #require(fileStatus(box.path("g")))
        #expect(status.st_size == 10 * page)
        #expect(Int64(status.st_blocks) * 512 == 10 * page, "the new range is committed up front")
        #expect(try registry.read(named: name, offset: 10, length: 5) == Array("hello"))
        #expect(
            try registry.read(named: name, offset: 9 * page, length: page) == [UInt8](repeating: 0, count: Int(page)))
    }

    @Test("grow by an amount adds to the commit, rounded up to pages")
    func growBy() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("g")
        try registry.make(name, reserve: 64 * page, commit: 2 * page)
        #expect(try registry.grow(named: name, .by(page)).commit == 3 * page)
        #expect(try registry.grow(named: name, .by(1)).commit == 4 * page)
        #expect(try registry.grow(named: name, .by(0)).commit == 4 * page)
        #expect(try registry.grow(named: name, .commit(5 * page - 100)).commit == 5 * page)
    }

    @Test("a commit never shrinks: .shrinkRefused with the commit in force")
    func neverShrinks() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("g")
        try registry.make(name, reserve: 64 * page, commit: 8 * page)
        let error = expectError(.shrinkRefused) { try registry.grow(named: name, .commit(4 * page)) }
        #expect(error?.commit == 8 * page)
        #expect(fileStatus(box.path("g"))?.st_size == Int(8 * page))
        // The same commit is not a shrink.
        #expect(try registry.grow(named: name, .commit(8 * page)).commit == 8 * page)
        expectError(.invalidSize) { try registry.grow(named: name, .by(-page)) }
        expectError(.invalidSize) { try registry.grow(named: name, .by(Int64.max)) }
        expectError(.invalidSize) { try registry.grow(named: name, .commit(-1)) }
        #expect(fileStatus(box.path("g"))?.st_size == Int(8 * page))
    }

    @Test("never past the reserve: .pastReserve and nothing changes")
    func neverPastReserve() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("g")
        try registry.make(name, reserve: 4 * page, commit: page)
        expectError(.pastReserve) { try registry.grow(named: name, .commit(4 * page + 1)) }
        expectError(.pastReserve) { try registry.grow(named: name, .by(4 * page)) }
        #expect(fileStatus(box.path("g"))?.st_size == Int(page))
        #expect(try registry.grow(named: name, .commit(4 * page)).commit == 4 * page)
        expectError(.pastReserve) { try registry.grow(named: name, .by(1)) }
    }

    @Test("a grow past the whole tmpfs is .pastCapacity with its size; st_size and st_blocks unchanged")
    func growTooLarge() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("big")
        let capacity = shmCapacity()
        let reserve = max(64 * GiB, capacity.total + 2 * GiB)
        try registry.make(name, reserve: reserve, commit: 4 * page)
        try registry.write(named: name, offset: 0, Array("data"))
        let before = try #require(fileStatus(box.path("big")))
        let target = try #require(ByteSize.roundUp(capacity.total + GiB, toMultipleOf: page))
        #expect(target > capacity.total && target <= reserve)
        let error = expectError(.pastCapacity) { try registry.grow(named: name, .commit(target)) }
        #expect(error?.code == .pastCapacity(filesystemBytes: capacity.total))
        #expect(error?.systemCall == nil, "refused before any system call that changes something")
        let after = try #require(fileStatus(box.path("big")))
        #expect(after.st_size == before.st_size)
        #expect(after.st_blocks == before.st_blocks)
        #expect(try registry.read(named: name, offset: 0, length: 4) == Array("data"))
        expectError(.pastCapacity) { try registry.grow(named: name, .by(target)) }
        #expect(fileStatus(box.path("big"))?.st_size == before.st_size)
        #expect(fileStatus(box.path("big"))?.st_blocks == before.st_blocks)
        #expect(try registry.section(named: name).commit == 4 * page)
    }

    @Test("foreign sections and semaphores are not grown")
    func growRefusals() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        try makeFile(box.path("foreign"), size: 100)
        try makeFile(Sandbox.shm + "/sem." + box.name("s"), size: 32)
        expectError(.notManaged) { try registry.grow(named: box.sectionName("foreign"), .by(page)) }
        expectError(.semaphore) { try registry.grow(named: SectionName("sem." + box.name("s")), .by(page)) }
        expectError(.notFound) { try registry.grow(named: box.sectionName("nothing"), .by(page)) }
        #expect(fileStatus(box.path("foreign"))?.st_size == 100)
        #expect(fileStatus(Sandbox.shm + "/sem." + box.name("s"))?.st_size == 32)
    }

    @Test("a python mapper sees the grown range without remapping its file (size check)")
    func pythonSeesGrow() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("g")
        try registry.make(name, reserve: 16 * page, commit: page)
        _ = try registry.grow(named: name, .commit(4 * page))
        try registry.write(named: name, offset: 3 * page, Array("tail"))
        let peer = try PythonPeer()
        defer { peer.stop() }
        #expect(try peer.run("attach \(name)") == String(4 * page))
        #expect(try peer.run("read \(3 * page) 4") == Array("tail").hex)
    }
}
