import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Discovery from a /proc it cannot fully read")
struct FakeProcTests {
    @Test("mappers, holders and locks are parsed from /proc; unreadable entries are skipped")
    func fakeProc() throws {
        let box = try Sandbox()
        defer { box.close() }
        try makeFile(box.path("obj"), size: Int(2 * page))
        let status = try #require(fileStatus(box.path("obj")))
        let shmDevice = try #require(fileStatus(Sandbox.shm)).st_dev
        let device = ProcScanner.deviceText(UInt64(shmDevice))
        let inode = status.st_ino
        let proc = "/tmp/\(box.prefix)proc"
        defer { try? FileManager.default.removeItem(atPath: proc) }
        func file(_ path: String, _ text: String) throws {
            try FileManager.default.createDirectory(
                atPath: (proc + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: proc + "/" + path, atomically: false, encoding: .utf8)
        }
        let mapsLine = "7f0000000000-7f0000002000 rw-s 00000000 \(device) \(inode)    \(box.path("obj"))\n"
        // A mapper with a name, on our device.
        try file("4242/comm", "fakemapper\n")
        try file(
            "4242/maps",
            "55d0000000-55d0001000 r-xp 00000000 08:01 999 /usr/bin/x\n" + mapsLine
                + "7f0000004000-7f0000005000 r--s 00001000 \(device) \(inode) \(box.path("obj"))\n")
        // Unreadable entries: maps and fd are of the wrong kind, comm is missing.
        try FileManager.default.createDirectory(atPath: proc + "/4243/maps", withIntermediateDirectories: true)
        try file("4243/fd", "not a directory")
        // A holder whose descriptor 3 is the object, and who holds an OFD lock through it.
        try FileManager.default.createDirectory(atPath: proc + "/4244/fd", withIntermediateDirectories: true)
        #expect(symlink(box.path("obj"), proc + "/4244/fd/3") == 0)
        #expect(symlink("/etc/hostname", proc + "/4244/fd/4") == 0)
        try file("4244/comm", "fakeholder\n")
        try file("4244/fdinfo/3", "pos:\t0\nflags:\t02\nlock:\t1: OFDLCK ADVISORY  READ  -1 \(device):\(inode) 0 EOF\n")
        // This process's own mappings are views, not mappers.
        try file("\(getpid())/maps", mapsLine)
        try file("notapid/maps", mapsLine)
        try file(
            "locks",
            "1: OFDLCK ADVISORY  READ  -1 \(device):\(inode) 0 EOF\n"
                + "2: POSIX  ADVISORY  WRITE 4245 \(device):\(inode) 0 EOF\n"
                + "2: -> POSIX  ADVISORY  WRITE 4246 \(device):\(inode) 0 EOF\n"
                + "3: FLOCK  ADVISORY  WRITE 4247 00:01:\(inode) 0 EOF\n")
        let registry = try SectionRegistry(
            configuration: .init(stateDirectory: box.newStateDirectory(), procRoot: proc, watchDirectory: false))
        defer { registry.close() }
        let detail = try registry.detail(named: box.sectionName("obj"))
        #expect(
            detail.mappers == [
                Mapper(
                    pid: 4242, command: "fakemapper", start: 0x7f00_0000_0000, end: 0x7f00_0000_2000, offset: 0,
                    access: .rw),
                Mapper(
                    pid: 4242, command: "fakemapper", start: 0x7f00_0000_4000, end: 0x7f00_0000_5000, offset: 4096,
                    access: .ro),
            ])
        #expect(detail.holders == [Holder(pid: 4244, command: "fakeholder", fd: 3)])
        #expect(
            Set(detail.lockHolders.map { "\($0.pid ?? -1) \($0.mode) \($0.type)" }) == [
                "4244 shared OFDLCK", "4245 exclusive POSIX",
            ])
        #expect(!detail.section.orphan)
        #expect(detail.section.mappers == 1, "one process, however many mappings")
    }

    @Test("a /proc that cannot be read at all leaves discovery empty, not failing")
    func missingProc() throws {
        let box = try Sandbox()
        defer { box.close() }
        try makeFile(box.path("obj"), size: 10)
        let registry = try SectionRegistry(
            configuration: .init(
                stateDirectory: box.newStateDirectory(), procRoot: "/tmp/\(box.prefix)no-proc", watchDirectory: false))
        defer { registry.close() }
        let detail = try registry.detail(named: box.sectionName("obj"))
        #expect(detail.mappers.isEmpty)
        #expect(detail.holders.isEmpty)
        #expect(detail.section.orphan)
    }
}
