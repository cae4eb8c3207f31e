import Testing

@testable import Doctor
@testable import HostScan

@Suite struct CheckTests {
    static let mib = Host.mib

    @Test func healthyHostGivesNothingAboveInfo() {
        var host = Host()
        let own = host.mount(40, size: 1 << 30, used: 100 * Self.mib)
        host.file("app.ring", on: own, size: 64 * Self.mib, mappedBy: [42])
        host.file("fresh", on: own, size: Self.mib, age: 5)  // not idle for the grace period yet
        let docker = host.mount(
            41, size: 64 * Self.mib, used: 8 * Self.mib, container: Container(runtime: .docker, id: "3f2a"))
        host.file("cache", on: docker, size: 8 * Self.mib, mappedBy: [50])
        host.segment(1)
        host.snapshot.sysvLimits = SysVLimits(shmmni: 4096, shmall: 1 << 40, shmmax: nil)
        host.unlinked(7, allocated: Self.mib)
        let findings = host.run(missing: ["old"])
        #expect(findings.allSatisfy { $0.severity == .info })
        #expect(Set(findings.map(\.id)) == ["unlinked-held", "missing-sections"])
    }

    @Test(
        arguments: [
            (79, nil), (80, Finding.Severity.warning), (94, .warning), (95, .critical), (100, .critical),
        ] as [(Int64, Finding.Severity?)])
    func shmFullByBytes(percent: Int64, severity: Finding.Severity?) {
        var host = Host()
        let device = host.mount(40, size: 100 * Self.mib, used: percent * Self.mib)
        host.file("big", on: device, size: percent * Self.mib, mappedBy: [42])
        let found = host.run().only("shm-full")
        #expect(found.first?.severity == severity)
        if let finding = found.first {
            #expect(finding.subjects == ["/api/v1/mounts/0:40", "/api/v1/sections/big"])
            #expect(finding.evidence["usedBytes"] == .int(percent * Self.mib))
            #expect(finding.evidence["freeBytes"] == .int((100 - percent) * Self.mib))
            #expect(finding.fix.contains("mount -o remount,size="))
        }
    }

    @Test func shmFullByInodes() {
        var host = Host()
        host.mount(40, inodes: 1000, inodesUsed: 960)
        #expect(host.run().only("shm-full").first?.severity == .critical)
    }

    @Test func shmFullFixNamesTheRuntime() {
        var host = Host()
        host.mount(40)
        host.mount(41, size: 64 * Self.mib, used: 63 * Self.mib, container: Container(runtime: .docker, id: "abc"))
        host.mount(42, size: 64 * Self.mib, used: 63 * Self.mib, container: Container(runtime: .kubepods, pod: "p-1"))
        let found = host.run().only("shm-full")
        #expect(found.count == 2)
        #expect(found.first { $0.scope == "0:41" }!.fix.contains("--shm-size="))
        #expect(found.first { $0.scope == "0:41" }!.fix.contains("shm_size"))
        #expect(found.first { $0.scope == "0:42" }!.fix.contains("medium: Memory"))
        #expect(found.first { $0.scope == "0:42" }!.fix.contains("sizeLimit"))
    }

    @Test func shmSmall() {
        var host = Host()
        host.mount(40, size: 64 * Self.mib, used: 40 * Self.mib)  // the host's: not a container
        host.mount(41, size: 64 * Self.mib, used: 32 * Self.mib, container: Container(runtime: .docker))
        host.mount(42, size: 64 * Self.mib, used: 31 * Self.mib, container: Container(runtime: .docker))
        let sparse = host.mount(43, size: 256 * Self.mib, used: 0, server: false)
        host.file("huge", on: sparse, size: 512 * Self.mib, allocated: 0)
        let found = host.run().only("shm-small")
        #expect(found.map(\.scope).sorted() == ["0:41", "0:43"])
        #expect(found.allSatisfy { $0.severity == .warning })
        let huge = found.first { $0.scope == "0:43" }!
        #expect(huge.subjects == ["/api/v1/mounts/0:43", "/api/v1/mounts/0:43/sections/huge"])
        #expect(huge.evidence["largestObjectBytes"] == .int(512 * Self.mib))
    }

    @Test(
        arguments: [
            (128, 6, Finding.Severity.critical), (40, 64, .warning), (30, 64, nil), (0, 0, nil),
        ] as [(Int64, Int64, Finding.Severity?)])
    func sigbusExposure(exposureMiB: Int64, freeMiB: Int64, severity: Finding.Severity?) {
        var host = Host()
        let device = host.mount(40, size: 256 * Self.mib, used: (256 - freeMiB) * Self.mib)
        host.file("sparse", on: device, size: exposureMiB * Self.mib + Self.mib, allocated: Self.mib, mappedBy: [42])
        host.file("unmapped", on: device, size: 0)
        let found = host.run().only("sigbus-exposure")
        #expect(found.first?.severity == severity)
        if let finding = found.first {
            #expect(finding.subjects == ["/api/v1/sections/sparse"])
            #expect(finding.evidence["exposureBytes"] == .int(exposureMiB * Self.mib))
            #expect(finding.evidence["freeBytes"] == .int(freeMiB * Self.mib))
            #expect(finding.evidence["pids"] == .list([.int(42)]))
            #expect(finding.fix.contains("fallocate"))
            #expect(finding.detail.contains("reset"))
        }
    }

    @Test func sigbusSubjectsAreOnlyMappedObjects() {
        var host = Host()
        let device = host.mount(40, size: 10 * Self.mib, used: 9 * Self.mib)
        host.file("mapped", on: device, size: 8 * Self.mib, allocated: 0, mappedBy: [42])
        host.file("idle", on: device, size: 8 * Self.mib, allocated: 0)
        let finding = host.run().only("sigbus-exposure").first!
        #expect(finding.severity == .critical)
        #expect(finding.subjects == ["/api/v1/sections/mapped"])
        #expect(finding.evidence["objects"] == .int(2))
        #expect(finding.evidence["mappedObjects"] == .int(1))
    }

    @Test func removeIPC() {
        var host = Host()
        let own = host.mount(40)
        host.file("user-owned", on: own, size: Self.mib, uid: 1234, mappedBy: [42])
        host.file("system", on: own, size: Self.mib, uid: 999, mappedBy: [42])
        let docker = host.mount(41, container: Container(runtime: .docker))
        host.file("in-container", on: docker, size: Self.mib, uid: 1234, mappedBy: [42])
        host.segment(7, uid: 2000)
        let on = DoctorConfiguration(logind: LogindSettings(removeIPC: true, source: "/etc/systemd/logind.conf"))
        let finding = host.run(on).only("removeipc").first!
        #expect(finding.severity == .warning)
        #expect(finding.subjects == ["/api/v1/sections/user-owned", "/api/v1/sysv/4026531839/7"])
        #expect(finding.evidence["uids"] == .list([.int(1234), .int(2000)]))
        #expect(finding.evidence["source"] == .text("/etc/systemd/logind.conf"))
        #expect(finding.fix.contains("RemoveIPC=no"))
        #expect(finding.fix.contains("system users"))
        #expect(host.run(DoctorConfiguration(logind: LogindSettings(removeIPC: false))).only("removeipc").isEmpty)
        let higher = DoctorConfiguration(logind: LogindSettings(removeIPC: true), systemUIDMax: 5000)
        #expect(host.run(higher).only("removeipc").isEmpty)
    }

    @Test(arguments: [(79, false), (80, true), (100, true)] as [(Int, Bool)])
    func sysvSegments(count: Int, fires: Bool) {
        var host = Host()
        host.mount(40)
        for shmid in 0..<count { host.segment(Int32(shmid), size: 4096, nattch: shmid < 3 ? 0 : 1) }
        host.snapshot.sysvLimits = SysVLimits(shmmni: 100, shmall: 1 << 40, shmmax: nil)
        let found = host.run().only("sysv-limits")
        #expect(found.isEmpty == !fires)
        if let finding = found.first {
            #expect(finding.severity == .warning)
            #expect(finding.evidence["segments"] == .int(Int64(count)))
            #expect(finding.evidence["shmmni"] == .int(100))
            #expect(finding.subjects.count == 3)
            #expect(finding.fix.contains("kernel.shmmni"))
        }
    }

    @Test func sysvPages() {
        var host = Host()
        host.mount(40)
        host.segment(1, size: 90 * 4096)
        host.snapshot.sysvLimits = SysVLimits(shmmni: 4096, shmall: 100, shmmax: nil)
        #expect(host.run().only("sysv-limits").first?.evidence["pages"] == .int(90))
    }

    @Test func orphansByCountAndBytes() {
        var host = Host()
        let many = host.mount(40)
        for index in 0..<100 { host.file("leak.\(index)", on: many, size: 4096) }
        let few = host.mount(41, server: false)
        for index in 0..<99 { host.file("leak.\(index)", on: few, size: 4096) }
        host.file("young", on: few, size: 64 * Self.mib, age: 60)  // inside the grace period
        let big = host.mount(42, server: false)
        host.file("big", on: big, size: 64 * Self.mib)
        host.file("used", on: big, size: 64 * Self.mib, mappedBy: [42])
        let found = host.run().only("orphans")
        #expect(found.map(\.scope).sorted() == ["0:40", "0:42"])
        #expect(found.first { $0.scope == "0:40" }!.evidence["count"] == .int(100))
        let bigFinding = found.first { $0.scope == "0:42" }!
        #expect(bigFinding.subjects == ["/api/v1/mounts/0:42/sections/big"])
        #expect(bigFinding.evidence["bytes"] == .int(64 * Self.mib))
        #expect(bigFinding.fix.contains("/api/v1/reclaim"))
    }

    @Test func orphansRisingOverTheHour() {
        var host = Host()
        let device = host.mount(40)
        for index in 0..<20 { host.file("leak.\(index)", on: device, size: 4096) }
        func history(_ counts: [Int]) -> [HistorySample] {
            counts.enumerated().map { index, count in
                HistorySample(
                    time: Host.now - 3000 + Double(index) * 600,
                    mounts: [.init(device: device, usedBytes: 0, exposureBytes: 0, orphans: count)], objects: [])
            }
        }
        let rising = host.run(history: history([5, 8, 12, 15, 19])).only("orphans").first!
        #expect(rising.evidence["countBefore"] == .int(5))
        #expect(rising.detail.contains("rose from 5 to 20"))
        #expect(host.run(history: history([15, 16, 18, 19, 20])).only("orphans").isEmpty)  // rose by 5
        #expect(host.run(history: history([5, 2, 12, 15, 19])).only("orphans").isEmpty)  // fell in between
        #expect(
            host.run(
                history: [history([5])[0]].map {
                    var s = $0; s.time = Host.now - 300; return s
                }
            )
            .only("orphans").isEmpty)  // too short a window
    }

    @Test func unlinkedHeld() {
        var host = Host()
        host.mount(40)
        host.unlinked(7, allocated: Self.mib)
        let small = host.run().only("unlinked-held").first!
        #expect(small.severity == .info)
        #expect(small.subjects == ["/api/v1/unlinked/0-40:7"])
        #expect(small.evidence["pids"] == .list([.int(42)]))
        host.unlinked(8, allocated: 1 << 30)
        let large = host.run().only("unlinked-held").first!
        #expect(large.severity == .warning)
        #expect(large.evidence["bytes"] == .int((1 << 30) + Self.mib))
    }

    @Test func missingSections() {
        var host = Host()
        host.mount(40)
        let finding = host.run(missing: ["b", "a b"]).only("missing-sections").first!
        #expect(finding.severity == .info)
        #expect(finding.subjects == ["/api/v1/sections/a%20b", "/api/v1/sections/b"])
    }

    @Test func deletedWhileMapped() {
        var host = Host()
        host.mount(40)
        let object = ObjectID(device: DeviceID(major: 0, minor: 40), inode: 9)
        let recent = UnlinkRecord(
            object: object, name: "db.buf", mount: object.device, time: Host.now - 3600, uid: 1234, pids: [42, 43])
        let old = UnlinkRecord(
            object: object, name: "old", mount: object.device, time: Host.now - 25 * 3600, uid: nil, pids: [42])
        let finding = host.run(unlinks: [old, recent]).only("deleted-while-mapped").first!
        #expect(finding.severity == .warning)
        #expect(finding.subjects == ["/api/v1/unlinked/0-40:9"])
        guard case .object(let first)? = finding.evidence["unlinks"]?.listValue?.first else {
            Issue.record("no unlink in the evidence")
            return
        }
        #expect(first["name"] == .text("db.buf"))
        #expect(first["uid"] == .int(1234))
        #expect(first["time"] == .number(Host.now - 3600))
        #expect(finding.evidence["unlinks"]?.listValue?.count == 1)
        #expect(host.run(unlinks: [old]).only("deleted-while-mapped").isEmpty)
    }

    @Test func worstFirstAndSummary() {
        var host = Host()
        let device = host.mount(40, size: 100 * Self.mib, used: 96 * Self.mib)
        host.file("sparse", on: device, size: 50 * Self.mib, allocated: 0, mappedBy: [42])
        host.unlinked(7, allocated: Self.mib)
        let findings = host.run(missing: ["gone"])
        #expect(findings.map(\.severity) == findings.map(\.severity).sorted(by: >))
        #expect(findings.first?.severity == .critical)
        let summary = Doctor.summary(findings)
        #expect(summary[.critical] == 2)
        #expect(summary[.info] == 2)
        #expect(Doctor.ids.count == 9)
    }
}
