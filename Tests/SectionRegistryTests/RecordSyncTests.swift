import Foundation
import Testing

@testable import SectionRegistry

@Suite("fsyncs of the state directory per operation")
struct RecordSyncTests {
    /// (record file fsyncs, records directory fsyncs) that `body` made.
    static func syncs(_ registry: SectionRegistry, _ body: () throws -> Void) rethrows -> (
        files: UInt64, directory: UInt64
    ) {
        let (files, directory) = (registry.store.fileSyncs.current, registry.store.directorySyncs.current)
        try body()
        return (registry.store.fileSyncs.current - files, registry.store.directorySyncs.current - directory)
    }

    @Test("create: both phases' files, the directory once; delete: the deleting phase's file, the directory once")
    func syncsPerOperation() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
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

    @Test("what is acknowledged is on disk: a new registry over the state directory agrees")
    func acknowledgedIsRecorded() throws {
        let box = try Sandbox()
        defer { box.close() }
        let state = box.newStateDirectory()
        let first = try box.registry(stateDirectory: state)
        let kept = try box.sectionName("kept")
        let gone = try box.sectionName("gone")
        _ = try first.make(kept, reserve: page)
        _ = try first.make(gone, reserve: page)
        try first.delete(named: gone)
        #expect(PersistenceTests.files(state).count == 1, "one record, no temporary")
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
        let registry = try box.registry(stateDirectory: state)
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
}
