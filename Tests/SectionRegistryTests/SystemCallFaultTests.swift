import Foundation
import SystemPackage
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// Failures made at the system-call seam (`SystemCallSeam`): the kernel is never asked, so a full
/// tmpfs, a refused open or an interrupted call can be had at any step, and each test checks the
/// typed error and that nothing changed.
@Suite("System call faults")
struct SystemCallFaultTests {
    /// Names in /dev/shm of this sandbox, and the state directory's record files.
    static func footprint(_ box: Sandbox, _ state: String) -> [String] {
        let records = (try? FileManager.default.contentsOfDirectory(atPath: state + "/records")) ?? []
        return (box.leftovers() + records.map { "records/" + $0 }).sorted()
    }

    /// Waits (bounded) until no create of this process is in flight: other tests may be creating.
    static func noTemporariesLeft() -> Bool {
        let own = SectionRegistry.temporaryPrefix + "\(getpid())-"
        for _ in 0..<200 {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? []
            if !entries.contains(where: { $0.hasPrefix(own) }) { return true }
            usleep(10_000)
        }
        return false
    }

    @Test("ENOSPC from fallocate in a create: .insufficientSpace naming fallocate; no object, temporary or record")
    func createOutOfSpace() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let registry = try box.registry(stateDirectory: state)
        let name = try box.sectionName("full")
        let before = Self.footprint(box, state)
        let script = SystemCallSeam.Script()
        script.fail(.fallocate, with: .noSpace)
        let error = SystemCallSeam.run(script) {
            expectError(.insufficientSpace) { try registry.make(name, reserve: 16 * page) }
        }
        #expect(error?.cause == SystemCallError(.fallocate, .noSpace))
        #expect(error?.section == name.value)
        #expect(script.pendingFaults.isEmpty, "the fault was used")
        #expect(script.trace.contains(.fallocate))
        #expect(Self.footprint(box, state) == before)
        #expect(Self.noTemporariesLeft())
        expectError(.notFound) { try registry.section(named: name) }
        // The same create without the fault succeeds: the failure left nothing in its way.
        #expect(try registry.make(name, reserve: 16 * page).commit == 16 * page)
    }

    @Test("ENOSPC writing the record of a create: the object is rolled back too")
    func createRecordOutOfSpace() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let registry = try box.registry(stateDirectory: state)
        let name = try box.sectionName("norecord")
        let before = Self.footprint(box, state)
        let script = SystemCallSeam.Script()
        script.fail(.pwrite, with: .noSpace)
        let error = SystemCallSeam.run(script) {
            expectError(.insufficientSpace) { try registry.make(name, reserve: 4 * page) }
        }
        #expect(error?.cause?.call == "pwrite")
        #expect(Self.footprint(box, state) == before)
        #expect(Self.noTemporariesLeft())
    }

    @Test("ENOSPC from fallocate in a grow: the commit, the bytes and the record stay as they were")
    func growOutOfSpace() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let registry = try box.registry(stateDirectory: state)
        let name = try box.sectionName("grow")
        try registry.make(name, reserve: 64 * page, commit: 2 * page)
        try registry.write(named: name, offset: 100, Array("kept"))
        let recordsBefore = Self.footprint(box, state)
        let script = SystemCallSeam.Script()
        script.fail(.fallocate, with: .noSpace)
        let error = SystemCallSeam.run(script) {
            expectError(.insufficientSpace) { try registry.grow(named: name, .commit(32 * page)) }
        }
        #expect(error?.cause == SystemCallError(.fallocate, .noSpace))
        #expect(fileStatus(box.path("grow")).map { Int64($0.st_size) } == 2 * page)
        #expect(try registry.section(named: name).commit == 2 * page)
        #expect(try registry.read(named: name, offset: 100, length: 4) == Array("kept"))
        #expect(Self.footprint(box, state) == recordsBefore)
    }

    @Test("EINTR is retried in one place: the write and the grow succeed, each call made twice")
    func interruptedCallsAreRetried() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("eintr")
        try registry.make(name, reserve: 8 * page, commit: page)
        let script = SystemCallSeam.Script()
        script.fail(.pwrite, with: .interrupted)
        script.fail(.fallocate, with: .interrupted, .interrupted)
        try SystemCallSeam.run(script) { () throws in
            #expect(try registry.write(named: name, offset: 0, Array("again")).written == 5)
            #expect(try registry.grow(named: name, .commit(4 * page)).commit == 4 * page)
        }
        #expect(script.pendingFaults.isEmpty)
        #expect(script.trace.filter { $0 == .pwrite }.count == 2)
        #expect(script.trace.filter { $0 == .fallocate }.count == 3)
        #expect(readFile(box.path("eintr"), offset: 0, count: 5) == Array("again".utf8))
        #expect(fileStatus(box.path("eintr")).map { Int64($0.st_size) } == 4 * page)
    }

    @Test("EACCES opening the object: .permissionDenied naming openat, and nothing is written")
    func openRefused() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("denied")
        try registry.make(name, reserve: page)
        let script = SystemCallSeam.Script()
        script.fail(.openat, with: .permissionDenied)
        let error = SystemCallSeam.run(script) {
            expectError(.permissionDenied) { try registry.write(named: name, offset: 0, Array("nope")) }
        }
        #expect(error?.cause == SystemCallError(.openat, .permissionDenied))
        #expect(!script.trace.contains(.pwrite), "no write was tried")
        #expect(readFile(box.path("denied"), offset: 0, count: 4) == [0, 0, 0, 0])
    }

    @Test("an open refused with EWOULDBLOCK (a lease being broken) is tried again, not a failure")
    func openDuringALeaseBreakIsRetried() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("lease")
        try registry.make(name, reserve: 4 * page)
        let script = SystemCallSeam.Script()
        script.fail(.openat, with: .resourceTemporarilyUnavailable, .resourceTemporarilyUnavailable)
        let map = try SystemCallSeam.run(script) { () throws in try registry.pageMap(named: name) }
        #expect(map.commit == 4 * page)
        #expect(script.pendingFaults.isEmpty)
        #expect(script.trace.filter { $0 == .openat }.count == 3)
    }

    @Test("faults stay with the task that scripted them: another thread's calls reach the kernel")
    func faultsAreScopedToTheTask() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("scoped")
        let script = SystemCallSeam.Script()
        script.fail(.fallocate, with: .noSpace)
        let result = Locked<Result<Int64, SectionError>?>(nil)
        SystemCallSeam.run(script) {
            let done = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                result.update {
                    $0 = Result { () throws(SectionError) in
                        try registry.create(CreateRequest(name: name, reserve: page)).section.commit
                    }
                }
                done.signal()
            }
            done.wait()
        }
        #expect(try result.value?.get() == page)
        #expect(script.pendingFaults[.fallocate] == [.noSpace], "the other thread's fallocate was not faulted")
    }
}
