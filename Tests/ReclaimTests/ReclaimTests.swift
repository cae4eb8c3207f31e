import Foundation
import HostScan
import SystemSeam
import Testing

import struct SystemPackage.Errno

@testable import Reclaim

#if canImport(Glibc)
    import Glibc
#endif

/// A directory of its own under /dev/shm as the "server's mount" (its device is /dev/shm's), a
/// state directory, a scanner and a quarantine over them. Everything is removed afterwards.
final class Bench {
    let shm: String
    let state: String
    let scanner: HostScanner
    private(set) var quarantine: Quarantine
    var device: DeviceID

    init(hook: (@Sendable (String, String) -> Void)? = nil, ttl: Double = 3600) throws {
        let tag = "t-reclaim-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        shm = "/dev/shm/" + tag
        state = "/tmp/" + tag + "-state"
        try FileManager.default.createDirectory(atPath: shm, withIntermediateDirectories: true)
        var info = stat()
        stat(shm, &info)
        device = DeviceID(UInt64(info.st_dev))
        scanner = HostScanner(HostScanConfiguration(shmDirectory: shm, maximumAge: 0.05, otherIPCNamespaces: false))
        quarantine = Quarantine(stateDirectory: state, scanner: scanner, ttl: ttl, notify: { _ in }, stepHook: hook)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: shm)
        try? FileManager.default.removeItem(atPath: state)
    }

    /// A new quarantine over the same state directory, as after a restart.
    func restart(hook: (@Sendable (String, String) -> Void)? = nil) {
        quarantine = Quarantine(stateDirectory: state, scanner: scanner, ttl: 3600, notify: { _ in }, stepHook: hook)
    }

    var reclaimer: Reclaimer { Reclaimer(quarantine: quarantine, graceSeconds: 600) }

    func request(dryRun: Bool = false, exclude: [String] = [], mode: ReclaimRequest.Mode = .quarantine)
        -> ReclaimRequest
    {
        ReclaimRequest(dryRun: dryRun, olderThan: 0, kinds: [.shm], mounts: [device], exclude: exclude, mode: mode)
    }

    @discardableResult
    func make(_ name: String, bytes: [UInt8]) throws -> [UInt8] {
        try Data(bytes).write(to: URL(fileURLWithPath: shm + "/" + name))
        return bytes
    }

    func contents(_ name: String) -> [UInt8]? {
        (try? Data(contentsOf: URL(fileURLWithPath: shm + "/" + name))).map { Array($0) }
    }

    func quarantined(_ id: String) -> [UInt8]? {
        (try? Data(contentsOf: URL(fileURLWithPath: shm + "/.shm-admin-quarantine/" + id))).map { Array($0) }
    }

    func names() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: shm)) ?? []).subtracting([".shm-admin-quarantine"])
    }

    func quarantineFiles() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: shm + "/.shm-admin-quarantine")) ?? [])
    }

    func inode(_ path: String) -> UInt64 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : 0
    }

    static func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 * 7) &+ seed }
    }
}

/// A child process holding `path` open (a `sh` with the file on fd 3); killed by `stop()`.
final class Holder {
    let process = Process()

    init(_ path: String) throws {
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec 3<\"$0\"; exec sleep 30", path]
        try process.run()
        let deadline = Date().addingTimeInterval(5)
        let target = path
        while Date() < deadline {
            let fds =
                (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/fd")) ?? []
            if fds.contains(where: {
                (try? FileManager.default.destinationOfSymbolicLink(
                    atPath: "/proc/\(process.processIdentifier)/fd/\($0)")) == target
            }) {
                return
            }
            usleep(10_000)
        }
    }

    /// SIGKILL: the test runner's children may inherit SIGTERM ignored.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite(.serialized) struct ReclaimProtocolTests {
    @Test func aDryRunListsOrphansAndChangesNothing() throws {
        let bench = try Bench()
        let bytes = try bench.make("leak", bytes: Bench.pattern(10_000, seed: 1))
        try bench.make("sem.lock", bytes: [1, 2, 3])
        let report = bench.reclaimer.run(bench.request(dryRun: true))
        #expect(report.dryRun)
        #expect(report.candidates.map(\.name) == ["leak"])
        #expect(report.candidates.first?.nattch == nil)
        #expect(report.reclaimed.isEmpty && report.reclaimedBytes == 0)
        #expect(bench.names() == ["leak", "sem.lock"])
        #expect(bench.contents("leak") == bytes)
        #expect(bench.quarantine.list().isEmpty)
    }

    @Test func quarantineKeepsTheBytesAndRestorePutsThemBack() throws {
        let bench = try Bench()
        let bytes = try bench.make("leak", bytes: Bench.pattern(50_000, seed: 3))
        let inode = bench.inode(bench.shm + "/leak")
        let report = bench.reclaimer.run(bench.request())
        #expect(report.reclaimed.map(\.name) == ["leak"])
        let id = try #require(report.reclaimed.first?.quarantineID)
        #expect(bench.names().isEmpty)
        #expect(bench.quarantined(id) == bytes)
        #expect(bench.quarantine.list().map(\.id) == [id])
        #expect(bench.quarantine.reclaimedTotals.objects == 1)
        let item = try bench.quarantine.restore(id)
        #expect(item.name == "leak")
        #expect(bench.contents("leak") == bytes)
        #expect(bench.inode(bench.shm + "/leak") == inode)
        #expect(bench.quarantine.list().isEmpty)
        #expect(bench.quarantineFiles().isEmpty)
    }

    @Test func aRestoreOntoATakenNameIsRefusedAndTheObjectStays() throws {
        let bench = try Bench()
        let bytes = try bench.make("leak", bytes: Bench.pattern(5000, seed: 5))
        let id = try #require(bench.reclaimer.run(bench.request()).reclaimed.first?.quarantineID)
        try bench.make("leak", bytes: [9, 9, 9])
        #expect(throws: QuarantineError.nameTaken("leak")) { try bench.quarantine.restore(id) }
        #expect(bench.contents("leak") == [9, 9, 9])
        #expect(bench.quarantined(id) == bytes)
        #expect(bench.quarantine.list().map(\.id) == [id])
    }

    @Test func purgeAndTheTTLRemoveTheObject() throws {
        let bench = try Bench(ttl: 0)
        try bench.make("one", bytes: Bench.pattern(4096, seed: 1))
        try bench.make("two", bytes: Bench.pattern(4096, seed: 2))
        let report = bench.reclaimer.run(bench.request())
        #expect(report.reclaimed.count == 2)
        _ = try bench.quarantine.purge(report.reclaimed[0].quarantineID!)
        #expect(bench.quarantineFiles().count == 1)
        #expect(bench.quarantine.purgeExpired().count == 1)
        #expect(bench.quarantineFiles().isEmpty && bench.quarantine.list().isEmpty)
        #expect(throws: QuarantineError.notFound("0123456789abcdef")) {
            try bench.quarantine.purge("0123456789abcdef")
        }
    }

    @Test func deleteModePurgesAtOnceAndExcludeGlobsAreNeverTouched() throws {
        let bench = try Bench()
        try bench.make("cache-1", bytes: [1])
        try bench.make("keep-me", bytes: [2])
        let report = bench.reclaimer.run(bench.request(exclude: ["keep-*"], mode: .delete))
        #expect(report.reclaimed.map(\.name) == ["cache-1"])
        #expect(report.reclaimed.first?.quarantineID == nil)
        #expect(report.skipped.map(\.reason) == [.excluded])
        #expect(bench.names() == ["keep-me"])
        #expect(bench.quarantineFiles().isEmpty && bench.quarantine.list().isEmpty)
    }

    @Test func anObjectAnotherProcessHoldsIsNotACandidate() throws {
        let bench = try Bench()
        try bench.make("held", bytes: [1, 2])
        let holder = try Holder(bench.shm + "/held")
        defer { holder.stop() }
        let report = bench.reclaimer.run(bench.request())
        #expect(report.candidates.isEmpty && report.reclaimed.isEmpty)
        #expect(bench.names() == ["held"])
    }

    @Test func anOpenByNameJustBeforeTheRenameGetsTheObjectBack() throws {
        let opened = OpenedFiles()
        let bench = try Bench(hook: { step, name in
            if step == "after-record" { opened.open(name) }
        })
        opened.directory = bench.shm
        let bytes = try bench.make("raced", bytes: Bench.pattern(8192, seed: 7))
        let report = bench.reclaimer.run(bench.request())
        opened.closeAll()
        #expect(report.reclaimed.isEmpty)
        #expect(report.skipped.map(\.reason) == [.reopened])
        #expect(bench.contents("raced") == bytes)
        #expect(bench.quarantine.list().isEmpty && bench.quarantineFiles().isEmpty)
    }

    @Test func whenTheNameIsTakenBeforeItCanGoBackTheObjectStaysQuarantined() throws {
        let opened = OpenedFiles()
        let bench = try Bench(hook: { step, name in
            if step == "after-record" { opened.open(name) }
            if step == "after-move" { opened.create(name) }
        })
        opened.directory = bench.shm
        let bytes = try bench.make("raced", bytes: Bench.pattern(8192, seed: 8))
        let report = bench.reclaimer.run(bench.request())
        opened.closeAll()
        #expect(report.skipped.map(\.reason) == [.reopenedNameTaken])
        let id = try #require(report.skipped.first?.quarantineID)
        #expect(bench.quarantined(id) == bytes)
        #expect(bench.quarantine.list().map(\.id) == [id])
    }

    @Test func aFailedRenameLeavesTheObjectUnderItsNameWithoutARecord() throws {
        let bench = try Bench()
        let bytes = try bench.make("stuck", bytes: [4, 5, 6])
        let script = SystemCallSeam.Script()
        script.fail(.renameat2, with: .ioError)
        let report = SystemCallSeam.run(script) { bench.reclaimer.run(bench.request()) }
        #expect(report.skipped.map(\.reason) == [.failed])
        #expect(bench.contents("stuck") == bytes)
        #expect(bench.quarantine.list().isEmpty)
        #expect(QuarantineRecordStore(stateDirectory: bench.state).loadAll().records.isEmpty)
    }

    @Test func aRecordThatCannotBeWrittenStopsTheMoveBeforeItStarts() throws {
        let bench = try Bench()
        let bytes = try bench.make("stuck", bytes: [4, 5, 6])
        let script = SystemCallSeam.Script()
        script.fail(.fsync, with: .noSpace)
        let report = SystemCallSeam.run(script) { bench.reclaimer.run(bench.request()) }
        #expect(report.skipped.map(\.reason) == [.failed])
        #expect(!script.trace.contains(.renameat2))
        #expect(bench.contents("stuck") == bytes)
    }
}

/// Files the test process opens by name from inside a step hook.
final class OpenedFiles: @unchecked Sendable {
    var directory = ""
    private var descriptors: [Int32] = []
    private let lock = NSLock()

    func open(_ name: String) {
        let fd = Glibc.open(directory + "/" + name, O_RDONLY)
        lock.withLock { descriptors.append(fd) }
    }

    func create(_ name: String) {
        let fd = Glibc.open(directory + "/" + name, O_RDWR | O_CREAT | O_EXCL, 0o600)
        lock.withLock { descriptors.append(fd) }
    }

    func closeAll() {
        lock.withLock {
            for fd in descriptors where fd >= 0 { close(fd) }
            descriptors = []
        }
    }
}

/// A start after a crash at each step: the records and the objects as the crash left them.
@Suite(.serialized) struct RecoveryTests {
    /// Runs a reclaim whose hook, at `step`, copies the state directory and notes where the object
    /// is — the world a `kill -9` at that instant leaves — then puts that world back and recovers.
    func crash(at step: String, mode: ReclaimRequest.Mode = .quarantine) throws -> (Bench, [UInt8], Quarantine.Recovery)
    {
        let frozen = Frozen()
        let bench = try Bench(hook: { current, _ in if current == step { frozen.freeze() } })
        frozen.bench = bench
        let bytes = try bench.make("victim", bytes: Bench.pattern(20_000, seed: 11))
        _ = bench.reclaimer.run(bench.request(mode: mode))
        try frozen.thaw()
        bench.restart()
        return (bench, bytes, bench.quarantine.recover())
    }

    @Test func aCrashAfterTheRecordLeavesTheObjectUnderItsName() throws {
        let (bench, bytes, recovery) = try crash(at: "after-record")
        #expect(bench.contents("victim") == bytes)
        #expect(bench.quarantine.list().isEmpty)
        #expect(recovery.restored == ["victim"] || recovery.dropped == ["victim"])
    }

    @Test func aCrashAfterTheMoveUndoesIt() throws {
        let (bench, bytes, recovery) = try crash(at: "after-move")
        #expect(recovery.restored == ["victim"])
        #expect(bench.contents("victim") == bytes)
        #expect(bench.quarantine.list().isEmpty && bench.quarantineFiles().isEmpty)
    }

    @Test func aCrashAfterTheCheckUndoesIt() throws {
        let (bench, bytes, _) = try crash(at: "after-check")
        #expect(bench.contents("victim") == bytes)
        #expect(bench.quarantine.list().isEmpty)
    }

    @Test func aCrashAfterTheMoveWhoseNameWasTakenKeepsItQuarantined() throws {
        let frozen = Frozen()
        let bench = try Bench(hook: { current, _ in if current == "after-move" { frozen.freeze() } })
        frozen.bench = bench
        let bytes = try bench.make("victim", bytes: Bench.pattern(3000, seed: 12))
        _ = bench.reclaimer.run(bench.request())
        try frozen.thaw()
        try bench.make("victim", bytes: [1])
        bench.restart()
        let recovery = bench.quarantine.recover()
        #expect(recovery.kept == ["victim"])
        let items = bench.quarantine.list()
        #expect(items.map(\.name) == ["victim"])
        #expect(bench.quarantined(items[0].id) == bytes)
    }

    @Test func aPurgeInFlightIsFinishedAndAVanishedObjectLosesItsRecord() throws {
        let bench = try Bench()
        try bench.make("a", bytes: [1])
        try bench.make("b", bytes: [2])
        let report = bench.reclaimer.run(bench.request())
        let ids = report.reclaimed.compactMap(\.quarantineID)
        #expect(ids.count == 2)
        let store = QuarantineRecordStore(stateDirectory: bench.state)
        var purging = try #require(store.loadAll().records.first { $0.name == "a" })
        purging.phase = .purging
        try store.save(purging)
        let other = try #require(store.loadAll().records.first { $0.name == "b" })
        unlink(bench.shm + "/.shm-admin-quarantine/" + other.id)
        bench.restart()
        let recovery = bench.quarantine.recover()
        #expect(recovery.purged == ["a"] && recovery.dropped == ["b"])
        #expect(bench.quarantineFiles().isEmpty && bench.quarantine.list().isEmpty)
        #expect(store.loadAll().records.isEmpty)
    }
}

/// The state a crash would leave at a hook: the state directory's records and where the object was.
final class Frozen: @unchecked Sendable {
    var bench: Bench?
    private var records: [String: Data] = [:]
    private var objectAt: String?
    private var inode: UInt64 = 0

    func freeze() {
        guard let bench else { return }
        let directory = bench.state + "/quarantine"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            records[name] = FileManager.default.contents(atPath: directory + "/" + name)
        }
        if bench.names().contains("victim") {
            objectAt = "victim"
        } else if let id = bench.quarantineFiles().first {
            objectAt = ".shm-admin-quarantine/" + id
        }
        inode = objectAt.map { bench.inode(bench.shm + "/" + $0) } ?? 0
    }

    /// Puts records and object back where they were at `freeze()`.
    func thaw() throws {
        guard let bench, let objectAt else { return }
        let directory = bench.state + "/quarantine"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            try FileManager.default.removeItem(atPath: directory + "/" + name)
        }
        for (name, data) in records {
            _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: data)
        }
        // Wherever the finished run left it, the object goes back to where the crash would have.
        let candidates = ["victim"] + bench.quarantineFiles().map { ".shm-admin-quarantine/" + $0 }
        guard let now = candidates.first(where: { bench.inode(bench.shm + "/" + $0) == inode }) else { return }
        if now != objectAt { rename(bench.shm + "/" + now, bench.shm + "/" + objectAt) }
    }
}

/// Two quarantines over one state directory, as the server and the command line working locally.
@Suite(.serialized) struct SharedStateTests {
    @Test func whatOneChangesTheOtherSeesAndActsOn() throws {
        let bench = try Bench()
        let bytes = try bench.make("shared", bytes: Bench.pattern(6000, seed: 21))
        let other = Quarantine(
            stateDirectory: bench.state, scanner: bench.scanner, ttl: 3600, notify: { _ in }, stepHook: nil)
        let id = try #require(bench.reclaimer.run(bench.request()).reclaimed.first?.quarantineID)
        #expect(other.list().map(\.id) == [id])
        _ = try other.restore(id)
        #expect(bench.contents("shared") == bytes)
        #expect(bench.quarantine.list().isEmpty)
        #expect(throws: QuarantineError.notFound(id)) { try bench.quarantine.purge(id) }
    }
}
