import SystemSeam
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// Readers within `listingMaximumAge` of a listing of every object share it, unless an event
/// came or the directory's mtime moved since: the registry lists and stats the directory once for
/// them all, and never answers from before a change it was told of.
@Suite("Shared listing")
struct SharedListingTests {
    /// Runs `body` under a script and says whether it listed a directory (`fdopendir`).
    static func lists<T>(_ body: () throws -> T) rethrows -> (T, listed: Bool) {
        let script = SystemCallSeam.Script()
        let value = try SystemCallSeam.run(script) { () throws -> T in try body() }
        return (value, script.trace.contains(.opendir))
    }

    /// Tries `attempt` until it says yes (at most fifty times): other suites make and remove objects
    /// in /dev/shm, which rightly ends a shared listing before the next reader comes.
    static func sometime(_ attempt: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<50 where try attempt() { return true }
        return false
    }

    @Test("a listing right after one of every object lists nothing, filtered or not, and answers the same array")
    func shared() throws {
        let box = try Sandbox()
        defer { box.close() }
        // Mappers from a pass of a minute's age: a pass lists /proc, which would read as a listing.
        let registry = try box.registry(scanMaximumAge: 60, watch: true)
        let name = try box.sectionName("shared")
        try registry.make(name, reserve: 4 * page)
        _ = try registry.list()
        #expect(
            try Self.sometime {
                let first = try registry.allEntries()
                let (second, listed) = try Self.lists { try registry.allEntries() }
                // Every entry is the kept array itself, not a copy of it.
                let same =
                    first.withUnsafeBufferPointer { $0.baseAddress }
                    == second.withUnsafeBufferPointer { $0.baseAddress }
                return !listed && same && second.contains { $0.name == name.value }
            })
        #expect(
            try Self.sometime {
                _ = try registry.allEntries()
                let (mine, listed) = try Self.lists { try registry.list(ListFilter(query: name.value)).sections }
                return !listed && mine.map(\.name) == [name.value]
            })
    }

    @Test("a change through the registry ends it: after a reset the next listing shows the pages gone")
    func endedByOwnChange() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry(watch: true)
        let name = try box.sectionName("reset")
        try registry.make(name, reserve: 4 * page)
        try registry.write(named: name, offset: 0, [UInt8](repeating: 7, count: Int(4 * page)))
        func blocks() throws -> Int {
            try registry.allEntries().first { $0.name == name.value }?.status?.st_blocks ?? -1
        }
        #expect(try blocks() > 0)
        _ = try registry.reset(named: name, offset: 0, length: 4 * page)
        #expect(try blocks() == 0)
    }

    @Test("another process's new object ends it: listed at once, before its inotify event comes")
    func endedByOthersObject() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry(watch: true)
        _ = try registry.allEntries()
        try makeFile(box.path("other"), size: Int(page))
        #expect(try registry.allEntries().contains { $0.name == box.name("other") })
    }

    @Test("without the watcher nothing is shared: every listing lists")
    func notWithoutWatcher() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry(watch: false)
        _ = try registry.allEntries()
        #expect(try Self.lists { try registry.allEntries() }.listed)
    }
}
