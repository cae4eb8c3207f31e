import Foundation
import Testing

@testable import SectionRegistry

@Suite("fsyncs of the state directory per operation, and records written in place")
struct RecordSyncTests {
    /// (record file fsyncs, records directory fsyncs) that `body` made.
    static func syncs(_ registry: SectionRegistry, _ body: () throws -> Void) rethrows -> (
        files: UInt64, directory: UInt64
    ) {
        let (files, directory) = (registry.store.fileSyncs.current, registry.store.directorySyncs.current)
        try body()
        return (registry.store.fileSyncs.current - files, registry.store.directorySyncs.current - directory)
    }

    @Test("always: create fsyncs the `ready` file and the directory once; delete the directory once")
    func syncsPerOperation() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry(recordSync: .always)
        #expect(registry.syncsRecords)
        let name = try box.sectionName("s")
        let create = try Self.syncs(registry) { _ = try registry.make(name, reserve: 4 * page, commit: page) }
        #expect(create.files == 1, "only `ready` is fsynced before its rename; `creating` is a phase")
        #expect(create.directory == 1, "one directory fsync, after the `ready` rename, makes both durable")
        let grow = try Self.syncs(registry) { _ = try registry.grow(named: name, .by(page)) }
        #expect(grow.files == 0 && grow.directory == 0, "a grow changes no record")
        let delete = try Self.syncs(registry) { try registry.delete(named: name) }
        #expect(delete.files == 0, "`deleting` is a phase: no fsync of its file")
        #expect(delete.directory == 1, "one directory fsync, after the record's removal")
    }

    @Test(
        "what is acknowledged is recorded: a new registry over the state directory agrees",
        arguments: RecordSync.allCases)
    func acknowledgedIsRecorded(sync: RecordSync) throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let first = try box.registry(stateDirectory: state, recordSync: sync)
        let kept = try box.sectionName("kept")
        let gone = try box.sectionName("gone")
        _ = try first.make(kept, reserve: page)
        _ = try first.make(gone, reserve: page)
        try first.delete(named: gone)
        #expect(PersistenceTests.recordFiles(state).count == 1, "one record, no temporary")
        let second = try box.registry(stateDirectory: state)
        #expect(second.startupReport.recovered == [kept.value])
        #expect(second.startupReport.repaired.isEmpty, "no phase was left for the start to finish")
        #expect(second.record(kept.value)?.phase == .ready)
        #expect(second.record(gone.value) == nil)
    }

    @Test("creates on 16 threads with shared directory fsyncs are every one recorded")
    func concurrentCreatesShareDirectorySyncs() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let registry = try box.registry(stateDirectory: state, recordSync: .always)
        let names = try (0..<16).map { try box.sectionName("c\($0)") }
        let before = registry.store.directorySyncs.current
        try onThreads(16) { index in _ = try? registry.make(names[index], reserve: page) }
        let syncs = registry.store.directorySyncs.current - before
        // How many they share depends on the timing (the deterministic case is SharedPassTests).
        #expect(syncs >= 1 && syncs <= 16, "never more than one directory fsync per create")
        let second = try box.registry(stateDirectory: state)
        #expect(second.startupReport.recovered.sorted() == names.map(\.value).sorted())
        #expect(second.startupReport.repaired.isEmpty)
    }

    /// What `stat -f` (coreutils) calls the file system of `path`.
    static func fileSystemType(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/stat")
        process.arguments = ["-f", "-c", "%T", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("auto: no fsync when the shared-memory directory is tmpfs, as `stat -f` says /dev/shm is")
    func autoOnTmpfs() throws {
        let box = try Sandbox()
        defer { box.close() }
        try #require(try Self.fileSystemType(Sandbox.shm) == "tmpfs", "this host's /dev/shm is not a tmpfs")
        let registry = try box.registry()
        #expect(registry.directory.isVolatile)
        #expect(!registry.syncsRecords)
        let name = try box.sectionName("s")
        let create = try Self.syncs(registry) { _ = try registry.make(name, reserve: 4 * page, commit: page) }
        let delete = try Self.syncs(registry) { try registry.delete(named: name) }
        #expect(create.files == 0 && create.directory == 0)
        #expect(delete.files == 0 && delete.directory == 0)
    }

    @Test("auto: a shared-memory directory on a lasting file system gets its records fsynced")
    func autoOnDisk() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        try RecordStore.makeDirectory(state + "/objects")
        let type = try Self.fileSystemType(state + "/objects")
        let volatile = ["tmpfs", "ramfs", "hugetlbfs"].contains(type)
        let directory = try ShmDirectory(path: state + "/objects")
        #expect(directory.isVolatile == volatile, "stat -f says \(type)")
        let configuration = SectionRegistry.Configuration(
            shmDirectory: state + "/objects", stateDirectory: state + "/state", watchDirectory: false)
        let registry = try SectionRegistry(configuration: configuration)
        #expect(registry.syncsRecords == !volatile)
        let name = try box.sectionName("d")
        let create = try Self.syncs(registry) { _ = try registry.make(name, reserve: 4 * page, commit: page) }
        #expect(create.files == (volatile ? 0 : 1))
        try registry.delete(named: name)
    }

    /// The inode of a record file, nil when there is none.
    static func recordInode(_ state: String, _ name: String) -> UInt64? {
        var info = stat()
        return stat(PersistenceTests.recordPath(state, name), &info) == 0 ? UInt64(info.st_ino) : nil
    }

    @Test("without fsyncs a record is rewritten in place: `ready` and `deleting` keep the file of `creating`")
    func inPlaceWithoutSyncs() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let store = try RecordStore(path: state, syncs: false)
        var record = SectionRecord(
            name: box.name("p"), reserve: page, namespace: .local, labels: ["note": String(repeating: "x", count: 300)],
            createdAt: 1.5, createdBy: "test", adopted: false, phase: .creating, inode: 7)
        try store.save(record, durable: false)
        let first = try #require(Self.recordInode(state, record.name))
        let longLength =
            try FileManager.default.attributesOfItem(
                atPath: PersistenceTests.recordPath(state, record.name))[.size] as? Int
        record.phase = .ready
        record.labels = [:]
        try store.save(record)
        #expect(Self.recordInode(state, record.name) == first, "overwritten, not replaced")
        let bytes = try #require(FileManager.default.contents(atPath: PersistenceTests.recordPath(state, record.name)))
        #expect(bytes.count == longLength, "padded to the old length, no stale tail")
        #expect(bytes.last == UInt8(ascii: " "))
        let loaded = store.loadAll()
        #expect(loaded.corrupt.isEmpty)
        #expect(loaded.records == [record], "the padding reads back as the shorter record")
        #expect(PersistenceTests.files(state).count == 1, "no temporary left")
    }

    @Test("with fsyncs, or when a record outgrows a page, it is a new file renamed over the old one")
    func replacedWhenSyncingOrLong() throws {
        let box = try Sandbox()
        defer { box.close() }
        for (syncs, labelLength) in [(true, 10), (false, Int(systemPageSize))] {
            let state = box.newStateDirectory()
            let store = try RecordStore(path: state, syncs: syncs)
            var record = SectionRecord(
                name: box.name("r"), reserve: page, namespace: .global, labels: [:], createdAt: 2,
                createdBy: "test", adopted: false, phase: .creating, inode: 9)
            try store.save(record, durable: false)
            let first = try #require(Self.recordInode(state, record.name))
            record.phase = .ready
            record.labels = ["long": String(repeating: "y", count: labelLength)]
            try store.save(record)
            #expect(Self.recordInode(state, record.name) != first, "syncs \(syncs), label \(labelLength) bytes")
            #expect(store.loadAll().records == [record])
        }
    }

    @Test("a record's JSON reads back equal, with quotes, backslashes, control characters and non-ASCII")
    func encodingRoundTrip() throws {
        let tricky = "q\"b\\s/\u{01}\n\t ü 🧪 \u{7f}"
        let records = [
            SectionRecord(
                name: "plain", reserve: 0, namespace: .local, labels: [:], createdAt: 0, createdBy: "", adopted: false,
                phase: .creating, inode: nil),
            SectionRecord(
                name: "n" + tricky, reserve: Int64.max, namespace: .global,
                labels: [tricky: tricky, "b": "", "a": "1"],
                createdAt: 1_796_444_560.123_456_7, createdBy: tricky, adopted: true, phase: .deleting,
                inode: UInt64(Int64.max)),
        ]
        for record in records {
            let bytes = record.encoded()
            #expect(try SectionRecord(decoding: bytes) == record)
            #expect(!bytes.contains(where: { $0 < 0x20 }), "control characters are escaped")
        }
    }

    @Test("records keep the text they have always had: sorted members, sorted labels")
    func encodingIsStable() {
        let record = SectionRecord(
            name: "orders", reserve: 1 << 30, namespace: .local, labels: ["team": "risk", "app": "matcher"],
            createdAt: 1_796_444_560.25, createdBy: "api 127.0.0.1", adopted: false, phase: .ready, inode: 4711)
        let expected =
            #"{"adopted":false,"createdAt":1796444560.25,"createdBy":"api 127.0.0.1","inode":4711,"#
            + #""labels":{"app":"matcher","team":"risk"},"name":"orders","namespace":"local","phase":"ready","#
            + #""reserve":1073741824,"version":1}"#
        #expect(String(decoding: record.encoded(), as: UTF8.self) == expected)
    }

    @Test("a record written by an earlier version reads back: any member order, escapes, unknown members")
    func oldRecordsRead() throws {
        // What JSONEncoder wrote before the records were written by hand: slashes and controls escaped.
        let old =
            #"{"version":1,"name":"a\/b\u0001","reserve":4096,"namespace":"global","labels":{"k":"v\u00fc"},"#
            + #""createdAt":17,"createdBy":"api","adopted":true,"phase":"creating","inode":null,"future":[1]}"#
        let record = try SectionRecord(decoding: Array(old.utf8))
        #expect(
            record
                == SectionRecord(
                    name: "a/b\u{01}", reserve: 4096, namespace: .global, labels: ["k": "vü"], createdAt: 17,
                    createdBy: "api", adopted: true, phase: .creating, inode: nil))
        for broken in [
            #"{"version":1}"#, #"[]"#, #"{"version":1,"version":1}"#,
            old.replacingOccurrences(of: #""reserve":4096"#, with: #""reserve":"4096""#),
            old.replacingOccurrences(of: #""phase":"creating""#, with: #""phase":"gone""#),
            old.replacingOccurrences(of: #""inode":null"#, with: #""inode":-1"#),
        ] {
            #expect(throws: SectionRecord.Unreadable.self) { try SectionRecord(decoding: Array(broken.utf8)) }
        }
    }

    @Test("without fsyncs a deleted section's record file is kept and becomes the next section's record")
    func recordFilesAreReused() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let registry = try box.registry(stateDirectory: state)
        try #require(!registry.syncsRecords, "needs /dev/shm on tmpfs")
        let first = try box.sectionName("first")
        _ = try registry.make(first, reserve: page)
        let inode = try #require(Self.recordInode(state, first.value))
        try registry.delete(named: first)
        #expect(registry.store.freeFileCount == 1)
        #expect(PersistenceTests.files(state).allSatisfy { $0.hasPrefix(RecordStore.freePrefix) })
        #expect(PersistenceTests.recordFiles(state).isEmpty, "only the kept file")
        let second = try box.sectionName("second")
        _ = try registry.create(CreateRequest(name: second, reserve: page, labels: ["a": "b"]))
        #expect(Self.recordInode(state, second.value) == inode, "the same inode, renamed")
        #expect(registry.store.freeFileCount == 0)
        let again = try box.registry(stateDirectory: state)
        #expect(again.startupReport.recovered == [second.value])
        #expect(again.startupReport.corrupt.isEmpty)
        #expect(again.record(second.value)?.labels == ["a": "b"])
        #expect(again.record(first.value) == nil)
    }

    @Test("at most freeFileLimit record files are kept, and a start removes those left behind")
    func keptFilesAreBoundedAndRemovedAtStart() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let registry = try box.registry(stateDirectory: state)
        try #require(!registry.syncsRecords, "needs /dev/shm on tmpfs")
        let count = RecordStore.freeFileLimit + 8
        let names = try (0..<count).map { try box.sectionName("k\($0)") }
        for name in names { _ = try registry.make(name, reserve: page) }
        for name in names { try registry.delete(named: name) }
        #expect(registry.store.freeFileCount == RecordStore.freeFileLimit)
        let hidden = try FileManager.default.contentsOfDirectory(atPath: state + "/records")
        #expect(hidden.count == RecordStore.freeFileLimit && hidden.allSatisfy { $0.hasPrefix(RecordStore.freePrefix) })
        let again = try box.registry(stateDirectory: state)
        #expect(try FileManager.default.contentsOfDirectory(atPath: state + "/records").isEmpty)
        #expect(again.startupReport.recovered.isEmpty && again.startupReport.corrupt.isEmpty)
    }
}
