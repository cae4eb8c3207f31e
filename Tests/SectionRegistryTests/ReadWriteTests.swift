import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Read and write")
struct ReadWriteTests {
    @Test("python attaches by name and sees bytes written through the core")
    func pythonSeesCoreWrites() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("rw")
        try registry.make(name, reserve: 4 * page)
        let message = Array("written by the core \u{1F600}")
        let result = try registry.write(named: name, offset: page + 3, message)
        #expect(result.written == Int64(message.count))
        #expect(result.requested == Int64(message.count))
        #expect(result.offset == page + 3)
        let peer = try PythonPeer()
        defer { peer.stop() }
        #expect(try peer.run("attach \(name)") == String(4 * page))
        #expect(try peer.run("read \(page + 3) \(message.count)") == message.hex)
        // While python stays attached, a later core write is visible to it at once.
        try registry.write(named: name, offset: 0, Array("later"))
        #expect(try peer.run("read 0 5") == Array("later").hex)
    }

    @Test("the core reads what a python process wrote (python-created and core-created sections)")
    func coreSeesPythonWrites() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let peer = try PythonPeer()
        defer { peer.stop() }
        // A section python made (foreign): read without adopting.
        try peer.run("create \(box.name("pyobj")) 10000")
        try peer.run("write 9990 " + Array("0123456789").hex)
        #expect(try registry.read(named: box.sectionName("pyobj"), offset: 9990, length: 10) == Array("0123456789"))
        // A section the core made, written by python through its mapping.
        let name = try box.sectionName("core")
        try registry.make(name, reserve: 2 * page)
        let other = try PythonPeer()
        defer { other.stop() }
        try other.run("attach \(name)")
        try other.run("write 100 " + Array("from python").hex)
        #expect(try registry.read(named: name, offset: 100, length: 11) == Array("from python"))
    }

    static let outOfRange: [(offset: Int64, length: Int)] = [
        (2 * page - 3, 4),  // straddles the end of the commit
        (2 * page, 1),
        (3 * page, 1),
        (-1, 1),
        (Int64.max, 1),
        (Int64.max - 1, 16),
    ]

    @Test("a write out of range is .outOfRange and writes nothing", arguments: outOfRange)
    func writeOutOfRange(_ range: (offset: Int64, length: Int)) throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("rw")
        try registry.make(name, reserve: 4 * page, commit: 2 * page)
        let error = expectError(.outOfRange) {
            try registry.write(named: name, offset: range.offset, [UInt8](repeating: 0xee, count: range.length))
        }
        #expect(error?.commit == 2 * page)
        #expect(error?.section == name.value)
        #expect(
            readFile(box.path("rw"), offset: 0, count: Int(2 * page)) == [UInt8](repeating: 0, count: Int(2 * page)))
        #expect(try registry.section(named: name).dataBytes == 0)
        #expect(fileStatus(box.path("rw"))?.st_size == Int(2 * page), "a write never extends the object")
    }

    @Test("a read out of range is .outOfRange", arguments: outOfRange)
    func readOutOfRange(_ range: (offset: Int64, length: Int)) throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("rw")
        try registry.make(name, reserve: 4 * page, commit: 2 * page)
        let error = expectError(.outOfRange) {
            try registry.read(named: name, offset: range.offset, length: Int64(range.length))
        }
        #expect(error?.commit == 2 * page)
        expectError(.outOfRange) { try registry.read(named: name, offset: 0, length: -1) }
    }

    @Test("partial writes write what fits and say so")
    func partialWrite() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("rw")
        try registry.make(name, reserve: 4 * page, commit: page)
        let result = try registry.write(named: name, offset: page - 4, Array("abcdefgh"), partial: true)
        #expect(result.written == 4)
        #expect(result.requested == 8)
        #expect(result.offset == page - 4)
        #expect(try registry.read(named: name, offset: page - 4, length: 4) == Array("abcd"))
        #expect(fileStatus(box.path("rw"))?.st_size == Int(page))
        let atEnd = try registry.write(named: name, offset: page, Array("x"), partial: true)
        #expect(atEnd.written == 0)
        expectError(.outOfRange) { try registry.write(named: name, offset: page + 1, Array("x"), partial: true) }
        expectError(.outOfRange) { try registry.write(named: name, offset: -1, Array("x"), partial: true) }
        let whole = try registry.write(named: name, offset: 0, Array("fits"), partial: true)
        #expect(whole.written == 4)
    }

    @Test("empty reads and writes are fine at any offset inside the commit")
    func emptyTransfers() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("rw")
        try registry.make(name, reserve: page)
        #expect(try registry.read(named: name, offset: page, length: 0).isEmpty)
        #expect(try registry.write(named: name, offset: page, []).written == 0)
    }

    @Test("a large write and read round-trip across pages")
    func largeRoundTrip() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("rw")
        try registry.make(name, reserve: 4 * MiB)
        let bytes = (0..<Int(3 * MiB)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 12) }
        #expect(try registry.write(named: name, offset: 12345, bytes).written == Int64(bytes.count))
        #expect(try registry.read(named: name, offset: 12345, length: Int64(bytes.count)) == bytes)
        #expect(readFile(box.path("rw"), offset: 12345, count: bytes.count) == bytes)
    }

    @Test("foreign sections are read but not written; semaphores neither; missing names are .notFound")
    func foreignRules() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        try makeFile(box.path("foreign"), size: 64)
        let foreign = try box.sectionName("foreign")
        #expect(try registry.read(named: foreign, offset: 0, length: 64) == [UInt8](repeating: 0, count: 64))
        expectError(.notManaged) { try registry.write(named: foreign, offset: 0, Array("no")) }
        #expect(readFile(box.path("foreign"), offset: 0, count: 2) == [0, 0])
        try makeFile(Sandbox.shm + "/sem." + box.name("s"), size: 32)
        expectError(.semaphore) {
            try registry.write(named: SectionName("sem." + box.name("s")), offset: 0, Array("no"))
        }
        expectError(.notFound) { try registry.read(named: box.sectionName("nothing"), offset: 0, length: 1) }
        expectError(.notFound) { try registry.write(named: box.sectionName("nothing"), offset: 0, Array("no")) }
    }

    @Test("openForStreaming hands out a descriptor of the object and its size")
    func streaming() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("rw")
        try registry.make(name, reserve: 2 * page)
        try registry.write(named: name, offset: 5, Array("stream"))
        let object = try registry.openForStreaming(named: name)
        let descriptor = object.descriptor.rawValue
        #expect(object.commit == 2 * page)
        #expect(fcntl(descriptor, F_GETFD) & FD_CLOEXEC != 0)
        var bytes = [UInt8](repeating: 0, count: 6)
        #expect(pread(descriptor, &bytes, 6, 5) == 6)
        #expect(bytes == Array("stream"))
        expectError(.notFound) { try registry.openForStreaming(named: box.sectionName("nothing")) }
    }
}
