import Testing

@testable import SectionRegistry

@Suite("Reset")
struct ResetTests {
    @Test("reset makes a range read as zeros, returns its memory and keeps the rest")
    func resetRange() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("r")
        try registry.make(name, reserve: 16 * page, commit: 8 * page)
        let pattern = [UInt8](repeating: 0xab, count: Int(8 * page))
        try registry.write(named: name, offset: 0, pattern)
        let before = try registry.section(named: name)
        #expect(before.dataBytes == 8 * page)
        let after = try registry.reset(named: name, offset: 2 * page, length: 3 * page)
        #expect(after.commit == 8 * page, "the range stays committed")
        #expect(after.allocatedBytes == before.allocatedBytes - 3 * page)
        #expect(after.dataBytes == 5 * page)
        #expect(fileStatus(box.path("r"))?.st_size == Int(8 * page))
        #expect(
            try registry.read(named: name, offset: 2 * page, length: 3 * page)
                == [UInt8](repeating: 0, count: Int(3 * page)))
        #expect(try registry.read(named: name, offset: 0, length: 2 * page) == Array(pattern[0..<Int(2 * page)]))
        #expect(try registry.read(named: name, offset: 5 * page, length: 3 * page) == Array(pattern[0..<Int(3 * page)]))
        let map = try registry.pageMap(named: name)
        #expect(
            map.runs == [
                PageRun(offset: 0, length: 2 * page, state: .data),
                PageRun(offset: 2 * page, length: 3 * page, state: .committed),
                PageRun(offset: 5 * page, length: 3 * page, state: .data),
                PageRun(offset: 8 * page, length: 8 * page, state: .reserved),
            ])
        // The range is writable again afterwards.
        try registry.write(named: name, offset: 3 * page, Array("again"))
        #expect(try registry.read(named: name, offset: 3 * page, length: 5) == Array("again"))
    }

    @Test("a python mapper reads zeros where the core reset")
    func pythonSeesReset() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("r")
        try registry.make(name, reserve: 4 * page)
        let peer = try PythonPeer()
        defer { peer.stop() }
        try peer.run("attach \(name)")
        try peer.run("write \(page) " + Array("python bytes").hex)
        #expect(try registry.read(named: name, offset: page, length: 12) == Array("python bytes"))
        _ = try registry.reset(named: name, offset: page, length: page)
        #expect(try peer.run("read \(page) 12") == [UInt8](repeating: 0, count: 12).hex)
    }

    static let badRanges: [(offset: Int64, length: Int64, code: SectionError.Kind)] = [
        (1, page, .invalidArgument),
        (0, page - 1, .invalidArgument),
        (-page, page, .invalidArgument),
        (0, -page, .invalidArgument),
        (0, 9 * page, .outOfRange),  // past the commit of 8 pages
        (8 * page, page, .outOfRange),
        (Int64.max - page + 1, page, .outOfRange),
    ]

    @Test("reset ranges must be page-aligned and inside the commit", arguments: badRanges)
    func badRange(_ range: (offset: Int64, length: Int64, code: SectionError.Kind)) throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("r")
        try registry.make(name, reserve: 16 * page, commit: 8 * page)
        try registry.write(named: name, offset: 0, [UInt8](repeating: 1, count: Int(8 * page)))
        let before = try #require(fileStatus(box.path("r")))
        expectError(range.code) { try registry.reset(named: name, offset: range.offset, length: range.length) }
        #expect(fileStatus(box.path("r"))?.st_blocks == before.st_blocks, "nothing was discarded")
        #expect(try registry.section(named: name).dataBytes == 8 * page)
    }

    @Test("an empty reset changes nothing; foreign and semaphores are refused")
    func resetRefusals() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("r")
        try registry.make(name, reserve: 2 * page)
        try registry.write(named: name, offset: 0, Array("x"))
        #expect(try registry.reset(named: name, offset: page, length: 0).dataBytes == page)
        try makeFile(box.path("foreign"), size: Int(page))
        expectError(.notManaged) { try registry.reset(named: box.sectionName("foreign"), offset: 0, length: page) }
        try makeFile(Sandbox.shm + "/sem." + box.name("s"), size: Int(page))
        expectError(.semaphore) {
            try registry.reset(named: SectionName("sem." + box.name("s")), offset: 0, length: page)
        }
    }
}
