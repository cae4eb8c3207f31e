import Testing

@testable import HostScan

@Suite("HostScan parsers")
struct ParserTests {
    static let docker = String(repeating: "3f2a", count: 16)
    static let other = String(repeating: "ab12", count: 16)

    @Test(
        "each runtime's cgroup path names its container",
        arguments: [
            ("/docker/\(docker)", Container.Runtime.docker, docker as String?, nil as String?),
            ("/system.slice/docker-\(docker).scope", .docker, docker, nil),
            ("/machine.slice/libpod-\(docker).scope/container", .podman, docker, nil),
            ("/system.slice/cri-containerd-\(docker).scope", .containerd, docker, nil),
            ("/system.slice/crio-\(docker).scope", .crio, docker, nil),
            (
                "/kubepods/burstable/pod0b5d6f2a-1c3e-4f5a-9b7c-2d4e6f8a0b1c/\(docker)", .kubepods, docker,
                "0b5d6f2a-1c3e-4f5a-9b7c-2d4e6f8a0b1c"
            ),
            (
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0b5d6f2a_1c3e_4f5a_9b7c_2d4e6f8a0b1c.slice/cri-containerd-\(docker).scope",
                .kubepods, docker, "0b5d6f2a-1c3e-4f5a-9b7c-2d4e6f8a0b1c"
            ),
            ("/system.slice/postgresql@15-main.service", .systemd, "postgresql@15-main.service", nil),
            ("/user.slice/user-1000.slice/session-3.scope", .systemd, "session-3.scope", nil),
            ("/", .none, nil, nil),
            ("/process_api/3d86ff3f749eb0b4db9dc333040a7ad3", .none, nil, nil),
        ] as [(String, Container.Runtime, String?, String?)])
    func runtimes(path: String, runtime: Container.Runtime, id: String?, pod: String?) {
        let container = CGroup.container(path: path)
        #expect(container.runtime == runtime)
        #expect(container.id == id)
        #expect(container.pod == pod)
    }

    @Test("cgroup files: v2 unified path first, v1's memory controller on hybrid hosts")
    func cgroupFiles() {
        let v2 = CGroup.parse("0::/system.slice/docker-\(Self.docker).scope\n")
        #expect(v2.unifiedPath == "/system.slice/docker-\(Self.docker).scope")
        #expect(v2.identityPath == v2.unifiedPath)
        let hybrid = CGroup.parse(
            "9:name=systemd:/docker/\(Self.other)\n4:memory:/docker/\(Self.other)\n1:cpu:/docker/\(Self.other)\n0::/\n")
        #expect(hybrid.unifiedPath == nil)
        #expect(hybrid.memoryPath == "/docker/\(Self.other)")
        #expect(
            CGroup.container(path: hybrid.identityPath)
                == Container(
                    runtime: .docker, id: Self.other, cgroupPath: "/docker/\(Self.other)"))
        #expect(CGroup.parse("0::/\n").identityPath == "/")
    }

    @Test("memory limits: max and v1's huge number are none")
    func limits() {
        #expect(CGroup.memoryLimit("max\n") == nil)
        #expect(CGroup.memoryLimit("536870912\n") == 536_870_912)
        #expect(CGroup.memoryLimit("9223372036854771712\n") == nil)
        #expect(CGroup.memoryLimit("") == nil)
    }

    @Test("mountinfo: the last tmpfs at /dev/shm is the reachable one; escapes are undone")
    func mountinfo() {
        let text = """
            25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683784k
            26 22 0:24 / /tmp rw - tmpfs tmpfs rw
            30 25 0:27 / /dev/shm rw,relatime shared:7 master:2 - tmpfs tmpfs rw,size=24683784k
            31 22 0:28 / /mnt/with\\040space rw - tmpfs tmpfs rw

            """
        #expect(MountInfo.shmDevice(text) == DeviceID(major: 0, minor: 27))
        #expect(MountInfo.parse(text).last?.mountPoint == "/mnt/with space")
        #expect(MountInfo.shmDevice("30 25 8:1 / /dev/shm rw - ext4 /dev/sda1 rw\n") == nil, "not a tmpfs")
        #expect(MountInfo.shmDevice("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n") == nil)
    }

    @Test("maps: shared-memory lines by device, memfd and System V by path, deleted marked")
    func maps() {
        let text = """
            55d0c0a00000-55d0c0a21000 r--p 00000000 08:01 1234   /usr/bin/cat
            7f1c00000000-7f1c00100000 rw-s 00000000 00:1b 273243                     /dev/shm/PostgreSQL.1804289383
            7f1c00100000-7f1c00200000 r--s 00001000 00:1b 273244                     /dev/shm/gone (deleted)
            7f1c00200000-7f1c00300000 rw-s 00000000 00:01 2049                       /memfd:wayland-shm (deleted)
            7f1c00300000-7f1c00400000 rw-s 00000000 00:01 32769                      /SYSV0052e2c1 (deleted)
            7f1c00400000-7f1c00500000 rw-s 00000000 00:01 0                          /SYSV00000000 (deleted)
            7f1c00500000-7f1c00600000 rw-s 00000000 00:1c 99                         /dev/shm/other device
            7f1c00500000-7f1c00600000 rw-p 00000000 00:00 0 
            7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0                          [stack]

            """
        let lines = Maps.parse(text, devices: ["00:1b"])
        #expect(lines.count == 5)
        #expect(
            lines[0]
                == Maps.Line(
                    start: 0x7f1c_0000_0000, end: 0x7f1c_0010_0000, writable: true, offset: 0,
                    device: DeviceID(major: 0, minor: 0x1b), inode: 273243, path: "/dev/shm/PostgreSQL.1804289383",
                    deleted: false))
        #expect(lines[1].deleted && lines[1].path == "/dev/shm/gone" && !lines[1].writable && lines[1].offset == 4096)
        #expect(lines[2].path == "/memfd:wayland-shm" && lines[2].deleted)
        #expect(lines[3].path == "/SYSV0052e2c1" && lines[3].inode == 32769)
        #expect(lines[4].inode == 0, "shmid 0 is a segment's, not an anonymous mapping")
        #expect(Maps.hexText(DeviceID(major: 0, minor: 0x1b)) == "00:1b")
        #expect(Maps.hexText(DeviceID(major: 259, minor: 3)) == "103:03")
    }

    @Test("sysvipc/shm rows by the header's columns")
    func sysv() {
        let text = """
                   key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap
                     0          2  1600             188416000  4242  4250      6   108   115   108   115 1733530000 1733530100 1733529000              2392064                     0
               5431233      32769   600                 65536   777     0      0     0     0     0     0          0          0 1733529999                     0                  4096

            """
        let rows = SysVTable.parse(text, ipc: 4_026_531_839)
        #expect(rows.count == 2)
        #expect(
            rows[0]
                == SysVSegment(
                    ipc: 4_026_531_839, key: 0, shmid: 2, mode: 0o1600, size: 188_416_000, cpid: 4242, lpid: 4250,
                    nattch: 6,
                    uid: 108, gid: 115, cuid: 108, cgid: 115, attachedAt: 1_733_530_000, detachedAt: 1_733_530_100,
                    changedAt: 1_733_529_000, rssBytes: 2_392_064, swapBytes: 0))
        #expect(rows[1].key == 5_431_233 && rows[1].mode == 0o600 && rows[1].swapBytes == 4096)
        #expect(SysVTable.parse("", ipc: 1).isEmpty)
    }

    @Test("sysvipc/shm read as bytes gives what splitting the text gives: any column order, odd fields")
    func sysvAgainstSplitting() {
        var generator = SystemRandomNumberGenerator()
        let columns = [
            "key", "shmid", "perms", "size", "cpid", "lpid", "nattch", "uid", "gid", "cuid", "cgid", "atime", "dtime",
            "ctime", "rss", "swap", "extra",
        ]
        let odd = [
            "-1", "+7", "0", "2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808",
            "777", "1777", "8", "x", "12a", "-", "+", "0600",
        ]
        for round in 0..<300 {
            var header = columns.shuffled(using: &generator)
            if round % 5 == 0 { header.removeLast(Int.random(in: 0...4, using: &generator)) }
            if round % 7 == 0 { header.insert("key", at: Int.random(in: 0...header.count, using: &generator)) }
            var text = "  " + header.joined(separator: "   ") + "\n"
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                let count = header.count - Int.random(in: 0...2, using: &generator)
                let fields = (0..<max(0, count)).map { _ in
                    Bool.random(using: &generator)
                        ? String(Int64.random(in: -100_000...5_000_000_000, using: &generator))
                        : odd.randomElement(using: &generator)!
                }
                text += String(repeating: " ", count: Int.random(in: 0...3, using: &generator))
                let gap = String(repeating: " ", count: Int.random(in: 1...3, using: &generator))
                text += fields.joined(separator: gap)
                text += round % 3 == 0 ? "\n\n" : "\n"
            }
            #expect(SysVTable.parse(text, ipc: 9) == Self.splitting(text, ipc: 9), "\(text)")
        }
    }

    /// sysvipc/shm parsed by splitting its text (the parser before it read bytes): the reference.
    static func splitting(_ text: String, ipc: UInt64) -> [SysVSegment] {
        var lines = text.split(separator: "\n")
        guard !lines.isEmpty else { return [] }
        let header = lines.removeFirst().split(separator: " ").map(String.init)
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        guard let keyColumn = column("key"), let idColumn = column("shmid"), let sizeColumn = column("size") else {
            return []
        }
        return lines.compactMap { line in
            let fields = line.split(separator: " ")
            func number(_ name: String) -> Int64 {
                guard let index = column(name), index < fields.count else { return 0 }
                return Int64(fields[index]) ?? 0
            }
            guard fields.count > max(keyColumn, idColumn, sizeColumn), let key = Int64(fields[keyColumn]),
                let shmid = Int32(fields[idColumn])
            else { return nil }
            let mode = column("perms").flatMap { $0 < fields.count ? UInt32(fields[$0], radix: 8) : nil } ?? 0
            return SysVSegment(
                ipc: ipc, key: Int32(truncatingIfNeeded: key), shmid: shmid, mode: mode, size: number("size"),
                cpid: Int32(clamping: number("cpid")), lpid: Int32(clamping: number("lpid")),
                nattch: number("nattch"), uid: UInt32(clamping: number("uid")), gid: UInt32(clamping: number("gid")),
                cuid: UInt32(clamping: number("cuid")), cgid: UInt32(clamping: number("cgid")),
                attachedAt: number("atime"), detachedAt: number("dtime"), changedAt: number("ctime"),
                rssBytes: number("rss"), swapBytes: number("swap"))
        }
    }

    @Test("locks: OFD locks have no pid, waiters are skipped")
    func locks() {
        let text = """
            1: OFDLCK  ADVISORY  WRITE -1 00:1b:273243 0 EOF
            2: POSIX  ADVISORY  READ 4242 00:1b:273244 0 EOF
            2: -> POSIX  ADVISORY  WRITE 4243 00:1b:273244 0 EOF

            """
        let parsed = Locks.parse(text)
        #expect(parsed.count == 2)
        #expect(parsed[0].0 == ObjectID(device: DeviceID(major: 0, minor: 27), inode: 273243))
        #expect(parsed[0].1 == LockEntry(pid: nil, exclusive: true, type: "OFDLCK"))
        #expect(parsed[1].1 == LockEntry(pid: 4242, exclusive: false, type: "POSIX"))
        #expect(namespaceInode("ipc:[4026531839]") == 4_026_531_839)
        #expect(namespaceInode("garbage") == nil)
    }

    @Test("devices: dev_t, decimal and hex text")
    func devices() {
        #expect(DeviceID(0x1b) == DeviceID(major: 0, minor: 27))
        #expect(DeviceID(UInt64(8 << 8 | 1)) == DeviceID(major: 8, minor: 1))
        #expect(DeviceID("0:40") == DeviceID(major: 0, minor: 40))
        #expect(DeviceID("00:28", radix: 16) == DeviceID(major: 0, minor: 40))
        #expect(DeviceID("0-40") == nil)
        #expect("\(DeviceID(major: 0, minor: 40))" == "0:40")
    }
}

@Suite("smaps")
struct SmapsTests {
    @Test("the block of the mapping that starts at the address, in bytes")
    func block() {
        let text = """
            7f1c00000000-7f1c00100000 rw-s 00000000 00:1b 273243                     /dev/shm/a
            Size:               1024 kB
            Rss:                 512 kB
            Pss:                 256 kB
            Swap:                  0 kB
            VmFlags: rd wr sh mr mw me ms sd
            7f1c00100000-7f1c00200000 rw-s 00000000 00:1b 273244                     /dev/shm/b
            Size:               1024 kB
            Rss:                   8 kB
            Pss:                   4 kB
            Swap:                 12 kB

            """
        #expect(
            MappingMemory.parse(text, start: 0x7f1c_0010_0000)
                == MappingMemory(rssBytes: 8192, pssBytes: 4096, swapBytes: 12288))
        #expect(MappingMemory.parse(text, start: 0x7f1c_0000_0000)?.pssBytes == Int64(256 * 1024))
        #expect(MappingMemory.parse(text, start: 0x1000) == nil)
    }
}
