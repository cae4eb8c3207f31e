import CShmLinux
import Foundation
import SystemPackage
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Page map")
struct PageMapTests {
    /// A 64 GiB reserve with 16 MiB committed and three data extents (one page at 0, one at
    /// 8 MiB, two pages at 12 MiB).
    final class Fixture {
        let box: Sandbox
        let registry: SectionRegistry
        let name: SectionName

        init() throws {
            box = try Sandbox()
            registry = try box.registry()
            name = try box.sectionName("pages")
            try registry.make(name, reserve: 64 * GiB, commit: 16 * MiB)
            try registry.write(named: name, offset: 0, [1])
            try registry.write(named: name, offset: 8 * MiB, [2])
            try registry.write(named: name, offset: 12 * MiB, [UInt8](repeating: 3, count: 5000))
        }

        func close() { box.close() }
    }

    static let allRuns = [
        PageRun(offset: 0, length: page, state: .data),
        PageRun(offset: page, length: 8 * MiB - page, state: .committed),
        PageRun(offset: 8 * MiB, length: page, state: .data),
        PageRun(offset: 8 * MiB + page, length: 4 * MiB - page, state: .committed),
        PageRun(offset: 12 * MiB, length: 2 * page, state: .data),
        PageRun(offset: 12 * MiB + 2 * page, length: 4 * MiB - 2 * page, state: .committed),
        PageRun(offset: 16 * MiB, length: 64 * GiB - 16 * MiB, state: .reserved),
    ]

    @Test("the whole map: data, committed and reserved runs with totals")
    func wholeMap() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let map = try fixture.registry.pageMap(named: fixture.name)
        #expect(map.pageSize == page)
        #expect(map.reserve == 64 * GiB)
        #expect(map.commit == 16 * MiB)
        #expect(map.allocatedBytes == 16 * MiB)
        #expect(map.dataBytes == 4 * page)
        #expect(map.runs == Self.allRuns)
        #expect(!map.truncated)
        #expect(map.runs.reduce(0) { $0 + $1.length } == 64 * GiB, "the runs cover [0, reserve)")
        let info = try fixture.registry.section(named: fixture.name)
        #expect(info.dataBytes == 4 * page)
        #expect(info.allocatedBytes == 16 * MiB)
    }

    static let windows: [(from: Int64?, to: Int64?, runs: [PageRun])] = [
        (
            8 * MiB - page, 12 * MiB + page,
            [
                PageRun(offset: 8 * MiB - page, length: page, state: .committed),
                PageRun(offset: 8 * MiB, length: page, state: .data),
                PageRun(offset: 8 * MiB + page, length: 4 * MiB - page, state: .committed),
                PageRun(offset: 12 * MiB, length: page, state: .data),
            ]
        ),
        (
            15 * MiB, 17 * MiB,
            [
                PageRun(offset: 15 * MiB, length: MiB, state: .committed),
                PageRun(offset: 16 * MiB, length: MiB, state: .reserved),
            ]
        ),
        (32 * GiB, 33 * GiB, [PageRun(offset: 32 * GiB, length: GiB, state: .reserved)]),
        (100, page, [PageRun(offset: 100, length: page - 100, state: .data)]),
        (nil, page, [PageRun(offset: 0, length: page, state: .data)]),
        (64 * GiB - page, nil, [PageRun(offset: 64 * GiB - page, length: page, state: .reserved)]),
        (64 * GiB - page, 128 * GiB, [PageRun(offset: 64 * GiB - page, length: page, state: .reserved)]),
        (-5, page, [PageRun(offset: 0, length: page, state: .data)]),
        (128 * GiB, nil, []),
        (12 * MiB, 12 * MiB, []),
    ]

    @Test("windowing with from and to", arguments: windows)
    func window(_ window: (from: Int64?, to: Int64?, runs: [PageRun])) throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let map = try fixture.registry.pageMap(named: fixture.name, from: window.from, to: window.to)
        #expect(map.runs == window.runs)
        #expect(!map.truncated)
        #expect(map.dataBytes == 4 * page, "totals are for the whole section")
    }

    @Test("from past to is refused")
    func reversedWindow() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        expectError(.invalidArgument) { try fixture.registry.pageMap(named: fixture.name, from: 2 * page, to: page) }
    }

    @Test("maxRuns caps the runs and says truncated", arguments: [0, 1, 2, 3, 4, 5, 6, 7, 8, 100])
    func runCap(_ maxRuns: Int) throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let map = try fixture.registry.pageMap(named: fixture.name, maxRuns: maxRuns)
        let expected = Array(Self.allRuns.prefix(max(1, maxRuns)))
        #expect(map.runs == expected)
        #expect(map.truncated == (max(1, maxRuns) < Self.allRuns.count))
    }

    @Test("the cost follows extents, not pages: a 64 GiB sparse object with three extents answers fast")
    func costFollowsExtents() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let path = box.path("sparse")
        try makeFile(path, size: 0)
        let fd = open(path, O_RDWR)
        try #require(fd >= 0)
        defer { close(fd) }
        #expect(ftruncate(fd, off_t(64 * GiB)) == 0, "a sparse 64 GiB object costs no memory")
        for offset in [0, 20 * GiB, 64 * GiB - 1] {
            var byte: UInt8 = 7
            #expect(pwrite(fd, &byte, 1, off_t(offset)) == 1)
        }
        let name = try box.sectionName("sparse")
        let clock = ContinuousClock()
        var map: PageMap?
        var elapsed = Duration.seconds(3600)
        for _ in 0..<3 {  // the best of three, so a busy machine's scheduling does not count
            elapsed = min(elapsed, try clock.measure { map = try registry.pageMap(named: name) })
        }
        let result = try #require(map)
        #expect(
            result.runs == [
                PageRun(offset: 0, length: page, state: .data),
                PageRun(offset: page, length: 20 * GiB - page, state: .committed),
                PageRun(offset: 20 * GiB, length: page, state: .data),
                PageRun(offset: 20 * GiB + page, length: 44 * GiB - 2 * page, state: .committed),
                PageRun(offset: 64 * GiB - page, length: page, state: .data),
            ])
        #expect(result.reserve == 64 * GiB, "a foreign section's map spans its commit")
        #expect(result.allocatedBytes == 3 * page)
        #expect(result.dataBytes == 3 * page)
        // Page by page (16 Mi pages) this would take seconds; by extents it is microseconds.
        #expect(elapsed < .milliseconds(200), "took \(elapsed)")
    }

    /// The extents of the naive walk: a SEEK_DATA and a SEEK_HOLE for each.
    static func naiveExtents(_ fd: Int32, from: Int64, to: Int64) -> [(Int64, Int64)] {
        var extents: [(Int64, Int64)] = []
        var position = from
        while position < to {
            let start = cshm_seek_data(fd, position)
            if start < 0 || start >= to { break }
            var end = cshm_seek_hole(fd, start)
            if end < 0 { end = to }
            extents.append((start, min(end, to)))
            position = end
        }
        return extents
    }

    /// The walk that probes the page after a one-page extent finds exactly what the naive walk finds:
    /// single pages, pairs, long extents, data at both ends of an object whose size is not a page multiple,
    /// in whole and unaligned windows, with and without a limit.
    @Test("the walk finds the extents of the naive SEEK_DATA / SEEK_HOLE walk", arguments: 1...6)
    func walkEqualsNaiveWalk(seed: Int) throws {
        let box = try Sandbox()
        defer { box.close() }
        let path = box.path("walk")
        try makeFile(path, size: 0)
        let fd = open(path, O_RDWR)
        try #require(fd >= 0)
        let object = OwnedDescriptor(FileDescriptor(rawValue: fd))  // closes fd
        let pages: Int64 = 4096
        let size = pages * page - Int64(seed * 100)
        #expect(ftruncate(fd, off_t(size)) == 0)
        var generator = SystemRandomNumberGenerator()
        var written = 0
        var at: Int64 = seed % 2 == 0 ? 0 : Int64.random(in: 0..<8, using: &generator) * page
        while at < size {
            // One page mostly, sometimes two to 40; gaps of one page to 60.
            let run = Int64.random(in: 0..<4, using: &generator) == 0 ? Int64.random(in: 2...40) : 1
            for offset in stride(from: at, to: min(at + run * page, size), by: Int(page)) {
                var byte: UInt8 = 1
                #expect(pwrite(fd, &byte, 1, off_t(offset)) == 1)
                written += 1
            }
            at += (run + Int64.random(in: 1...60, using: &generator)) * page
        }
        if seed % 3 == 0 {  // data in the last, partial page
            var byte: UInt8 = 2
            #expect(pwrite(fd, &byte, 1, off_t(size - 1)) == 1)
        }
        #expect(written > 50)
        var windows: [(Int64, Int64)] = [(0, size), (1, size), (page, size - 1), (size - 1, size)]
        for _ in 0..<40 {
            let from = Int64.random(in: 0..<size, using: &generator)
            windows.append((from, Int64.random(in: from...size, using: &generator)))
        }
        for (from, to) in windows {
            let naive = Self.naiveExtents(fd, from: from, to: to)
            let (extents, complete) = try PageWalker.dataExtents(of: object, from: from, to: to, section: "walk")
            #expect(complete)
            #expect(extents.map { [$0.0, $0.1] } == naive.map { [$0.0, $0.1] }, "window \(from)..<\(to)")
            let limit = Int.random(in: 0...max(0, naive.count), using: &generator)
            let capped = try PageWalker.dataExtents(of: object, from: from, to: to, limit: limit, section: "walk")
            #expect(capped.extents.map { [$0.0, $0.1] } == naive.prefix(limit).map { [$0.0, $0.1] })
            #expect(capped.complete == (limit >= naive.count), "limit \(limit) of \(naive.count)")
        }
    }

    @Test("a section with nothing committed is all reserved; an empty object has no runs")
    func emptyCommit() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("empty")
        try registry.make(name, reserve: 4 * page, commit: 0)
        let map = try registry.pageMap(named: name)
        #expect(map.runs == [PageRun(offset: 0, length: 4 * page, state: .reserved)])
        #expect(map.allocatedBytes == 0)
        try makeFile(box.path("zero"), size: 0)
        #expect(try registry.pageMap(named: box.sectionName("zero")).runs.isEmpty)
        expectError(.notFound) { try registry.pageMap(named: box.sectionName("nothing")) }
    }
}
