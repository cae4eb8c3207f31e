import Foundation
import Testing

@testable import HostScan
@testable import SectionRegistry
@testable import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// The registry's mappers, holders and locks taken from the host's one pass.
@Suite struct HostProcessViewTests {
    @Test("one device's objects in the registry's words: mappers but the server, holders with it, locks")
    func conversion() {
        var snapshot = HostObjectsTests.snapshot()
        let data = ObjectID(device: HostObjectsTests.container, inode: 55)
        snapshot.locks[data] = [
            LockEntry(pid: 201, exclusive: true, type: "OFDLCK"), LockEntry(pid: nil, exclusive: false, type: "OFDLCK"),
        ]
        snapshot.locks[ObjectID(device: HostObjectsTests.own, inode: 9)] = [
            LockEntry(pid: 10, exclusive: true, type: "POSIX")
        ]
        snapshot.takenAt = 42
        let view = HostProcessView.view(of: snapshot, device: HostObjectsTests.container)
        #expect(view.takenAt == 42)
        #expect(
            view.mappers[55]?.map { "\($0.pid) \($0.command) \($0.access)" } == ["200 postgres rw", "200 postgres ro"],
            "the server's own mapping (pid 10) is not another process's")
        #expect(view.holders[55]?.map { "\($0.pid) \($0.command) \($0.fd)" } == ["201 worker 4"])
        #expect(view.mappers[60]?.map(\.pid) == [201], "an unlinked object of the device is still its inode")
        #expect(
            view.locks[55]?.map { "\($0.pid ?? -1) \($0.mode) \($0.type)" } == [
                "201 exclusive OFDLCK", "-1 shared OFDLCK",
            ])
        #expect(view.locks[9] == nil && view.mappers[2049] == nil, "other devices' objects stay out")
    }

    @Test("a section list, the inventory and the doctor's question share one pass over /proc")
    func onePass() throws {
        let state = "/tmp/t-hpv-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: state) }
        let host = HostScanner(HostScanConfiguration(shmDirectory: "/dev/shm", maximumAge: 60))
        let registry = try SectionRegistry(
            configuration: .init(
                stateDirectory: state, watchDirectory: false,
                processView: { HostProcessView(host: host, device: $0) }))
        defer { registry.close() }
        _ = try registry.list()
        _ = host.snapshot()
        _ = try registry.list()
        #expect(host.passesRun == 1)
        registry.processes.invalidate()
        _ = try registry.list()
        #expect(host.passesRun == 2, "the registry's invalidation is the host's")
    }
}
