import Foundation
import Synchronization
import SystemSeam
import Testing

@testable import HostScan

#if canImport(Glibc)
    import Glibc
#endif

@Suite("One pass over a prepared /proc")
struct PassTests {
    static let dockerID = String(repeating: "3f2a", count: 16)
    static let container = DeviceID(major: 0, minor: 99)

    /// The host (pid 1 and the server, 100) sees the server's directory at /dev/shm (stacked over
    /// an older tmpfs); a docker container (200, 201) has its own tmpfs; a Kubernetes pod (300) has
    /// no tmpfs at /dev/shm.
    /// `host()`, the status of the server's own object `a` there, and a scanner of that host.
    static func scannedHost() throws -> (fake: FakeProc, status: stat, scanner: HostScanner) {
        let fake = try host()
        var status = stat()
        stat(fake.root + "/own-shm/a", &status)
        return (fake, status, HostScanner(fake.configuration()))
    }

    static func host() throws -> FakeProc {
        let fake = try FakeProc()
        let real = fake.realDevice
        try fake.link("proc/self", to: "100")
        try fake.process(
            1, mountNamespace: 1001, shmDevices: [DeviceID(major: 0, minor: 23), real],
            cgroup: "0::/init.scope\n", command: "systemd")
        try fake.process(
            100, mountNamespace: 1001, shmDevices: [DeviceID(major: 0, minor: 23), real], command: "shm-admin")
        for pid: Int32 in [200, 201] {
            try fake.process(
                pid, mountNamespace: 2002, ipcNamespace: 5005, shmDevices: [container],
                cgroup: "0::/system.slice/docker-\(dockerID).scope\n", command: "postgres")
        }
        try fake.process(
            300, mountNamespace: 3003, shmDevices: [],
            cgroup:
                "0::/kubepods.slice/kubepods-pod0b5d6f2a_1c3e_4f5a_9b7c_2d4e6f8a0b1c.slice/cri-containerd-\(dockerID).scope\n"
        )
        try fake.write("host/sys/fs/cgroup/system.slice/docker-\(dockerID).scope/memory.max", "67108864\n")
        try fake.write("own-shm/a", String(repeating: "x", count: 1000))
        try fake.write("own-shm/sem.x", "s")
        try fake.directory("own-shm/.shm-admin-quarantine")
        try fake.link("proc/1/fd/5", to: fake.root + "/own-shm/a")
        try fake.link("proc/1/fd/6", to: "/usr/lib/x86_64-linux-gnu/libc.so.6")
        let maps = """
            7f1c00000000-7f1c00100000 rw-s 00000000 00:63 55     /dev/shm/data
            7f1c00100000-7f1c00200000 r--s 00000000 00:63 56     /dev/shm/gone (deleted)
            7f1c00200000-7f1c00300000 rw-s 00000000 00:01 2049   /memfd:wayland-shm (deleted)
            7f1c00300000-7f1c00400000 rw-s 00000000 00:01 7      /SYSV0052e2c1 (deleted)

            """
        try fake.write("proc/200/maps", maps)
        try fake.write("proc/201/maps", "7f00000000-7f00001000 r--s 00000000 00:63 55 /dev/shm/data\n")
        try fake.write(
            "proc/sysvipc/shm",
            """
                   key      shmid perms       size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime        rss       swap
               5431233          9   600      65536   100     0      0     0     0     0     0          0          0 1733529999          0          0

            """)
        try fake.write("proc/sys/kernel/shmmni", "4096\n")
        var info = stat()
        stat(fake.root + "/own-shm/a", &info)
        try fake.write("proc/locks", "1: OFDLCK  ADVISORY  WRITE -1 \(Maps.hexText(real)):\(info.st_ino) 0 EOF\n")
        return fake
    }

    @Test("mounts: the server's first, one per device, reached through a process of its namespace")
    func mounts() throws {
        let fake = try Self.host()
        defer { fake.remove() }
        let snapshot = HostPass(fake.configuration()).run()
        #expect(snapshot.ownPid == 100)
        #expect(snapshot.ownMountNamespace == 1001)
        #expect(snapshot.mounts.map(\.device) == [fake.realDevice, Self.container])
        let own = snapshot.mounts[0]
        #expect(own.isServer && own.path == fake.root + "/own-shm")
        #expect(own.namespaces == [1001] && own.pids == [1, 100])
        #expect(own.container == .none, "pid 1's namespace is the host, whatever its cgroup says")
        #expect(own.entries.map(\.name) == ["a", "sem.x"], "regular files only")
        #expect(own.entries[0].facts.size == 1000)
        #expect(own.capacity != nil)
        let docker = snapshot.mounts[1]
        #expect(!docker.isServer && docker.path == "/dev/shm")
        #expect(docker.reachedThrough == fake.proc + "/200/root/dev/shm")
        #expect(docker.pids == [200, 201])
        #expect(docker.container.runtime == .docker && docker.container.id == Self.dockerID)
        #expect(docker.container.memoryMax == 64 << 20)
        #expect(docker.entries.isEmpty, "files of another device are not this mount's")
        let pod = try #require(snapshot.namespaces[3003])
        #expect(pod.shmDevice == nil)
        #expect(pod.container.runtime == .kubepods && pod.container.pod == "0b5d6f2a-1c3e-4f5a-9b7c-2d4e6f8a0b1c")
        #expect(snapshot.container(of: 201).runtime == .docker)
        #expect(snapshot.container(of: 300).runtime == .kubepods)
        #expect(snapshot.container(of: 999).runtime == .none)
    }

    @Test("objects by device and inode: mappers, holders, memfd, unlinked, System V attachments")
    func objects() throws {
        let fake = try Self.host()
        defer { fake.remove() }
        let snapshot = HostPass(fake.configuration()).run()
        let data = try #require(snapshot.objects[ObjectID(device: Self.container, inode: 55)])
        #expect(data.kind == .named && data.name == "data")
        #expect(data.mappers.map(\.pid) == [200, 201])
        #expect(data.mappers[0].writable && !data.mappers[1].writable)
        let gone = try #require(snapshot.objects[ObjectID(device: Self.container, inode: 56)])
        #expect(gone.kind == .unlinked && gone.name == "gone" && gone.path == "/dev/shm/gone")
        let memfd = try #require(snapshot.objects[ObjectID(device: DeviceID(major: 0, minor: 1), inode: 2049)])
        #expect(memfd.kind == .memfd && memfd.name == "wayland-shm")
        #expect(snapshot.sysvMappers[SysVID(ipc: 5005, shmid: 7)]?.map(\.pid) == [200])
        var info = stat()
        stat(fake.root + "/own-shm/a", &info)
        let a = ObjectID(device: fake.realDevice, inode: UInt64(info.st_ino))
        let held = try #require(snapshot.objects[a])
        #expect(held.holders == [Holding(pid: 1, fd: 5)], "links elsewhere (libc) are not shared memory")
        #expect(held.facts?.size == 1000)
        #expect(snapshot.locks[a] == [LockEntry(pid: nil, exclusive: true, type: "OFDLCK")])
        #expect(snapshot.isInUse(a))
        #expect(snapshot.commands[200] == "postgres" && snapshot.commands[1] == "systemd")
        #expect(snapshot.commands[300] == nil, "commands only of processes that use shared memory")
        #expect(snapshot.sysv.map(\.shmid) == [9])
        #expect(snapshot.sysv[0].ipc == 4_026_531_839)
        #expect(snapshot.sysvLimits.shmmni == 4096 && snapshot.sysvLimits.shmall == nil)
    }

    @Test("two threads sharing the processes and the mounts find what one finds, in the same order")
    func twoThreads() throws {
        let fake = try Self.host()
        defer { fake.remove() }
        var info = stat()
        stat(fake.root + "/own-shm/a", &info)
        for pid: Int32 in 400..<440 {
            try fake.process(pid, mountNamespace: 2002, ipcNamespace: 5005, shmDevices: [Self.container])
            try fake.write(
                "proc/\(pid)/maps",
                "7f1c00000000-7f1c00100000 rw-s 00000000 00:63 55     /dev/shm/data\n"
                    + "7f1c00300000-7f1c00400000 rw-s 00000000 00:01 7      /SYSV0052e2c1 (deleted)\n")
            try fake.link("proc/\(pid)/fd/\(pid % 7 + 3)", to: fake.root + "/own-shm/a")
        }
        let alone = HostPass(fake.configuration()).run()
        var shared = HostPass(fake.configuration())
        shared.parallelFrom = 1
        let together = shared.run()
        let data = ObjectID(device: Self.container, inode: 55)
        let a = ObjectID(device: fake.realDevice, inode: UInt64(info.st_ino))
        #expect(alone.objects[data]?.mappers.count == 42)
        #expect(together.objects[data]?.mappers.map(\.pid) == alone.objects[data]?.mappers.map(\.pid))
        #expect(together.objects[a]?.holders == alone.objects[a]?.holders)
        #expect(together.objects[a]?.holders.count == 41 && together.objects[a]?.facts?.size == 1000)
        #expect(Set(together.objects.keys) == Set(alone.objects.keys))
        #expect(together.objects.mapValues(\.path) == alone.objects.mapValues(\.path))
        let sysv = SysVID(ipc: 5005, shmid: 7)
        #expect(together.sysvMappers[sysv]?.map(\.pid) == alone.sysvMappers[sysv]?.map(\.pid))
        #expect(together.sysvMappers[sysv]?.count == 41)
        #expect(together.commands == alone.commands && together.commands.count == alone.commands.count)
        #expect(together.mounts.map(\.pids) == alone.mounts.map(\.pids))
        // The namespaces' links and each mount's objects, read on two threads too.
        func links(_ snapshot: HostSnapshot) -> [String] {
            snapshot.processes.sorted { $0.key < $1.key }.map {
                "\($0.key) \($0.value.mount ?? 0) \($0.value.ipc ?? 0)"
            }
        }
        #expect(links(together) == links(alone) && links(alone).count >= 40)
        #expect(together.namespaces.mapValues(\.pids) == alone.namespaces.mapValues(\.pids))
        #expect(together.namespaces.mapValues(\.shmDevice) == alone.namespaces.mapValues(\.shmDevice))
        #expect(together.mounts.map(\.device) == alone.mounts.map(\.device) && alone.mounts.count >= 2)
        #expect(together.mounts.map { $0.entries.map(\.name) } == alone.mounts.map { $0.entries.map(\.name) })
        #expect(together.mounts[0].entries.map(\.name) == ["a", "sem.x"])
        #expect(together.mounts.map { $0.capacity?.sizeBytes } == alone.mounts.map { $0.capacity?.sizeBytes })
    }

    @Test("what a pass does on its second thread counts in its cost")
    func costOfBothThreads() {
        let pass = HostPass(HostScanConfiguration())
        /// Spends `seconds` of this thread's CPU.
        @Sendable func spin(_ seconds: Double) -> Int {
            let start = threadCPUSeconds()
            var rounds = 0
            while threadCPUSeconds() - start < seconds { rounds &+= 1 }
            return rounds
        }
        let before = threadCPUSeconds()
        let halves = pass.inShares(2, parallel: true) { range in range.map { _ in spin(0.02) } }
        let own = threadCPUSeconds() - before
        #expect(halves.count == 2)
        // Both halves on this thread, or one here and one on a worker: 40 ms in all either way.
        #expect(own + pass.helperCPU.seconds >= 0.035, "\(own) s here, \(pass.helperCPU.seconds) s elsewhere")
    }

    @Test("a cgroup v1 host: the memory controller's limit")
    func cgroupV1() throws {
        let fake = try FakeProc()
        defer { fake.remove() }
        try fake.link("proc/self", to: "1")
        try fake.process(1, mountNamespace: 1, shmDevices: [])
        try fake.process(
            50, mountNamespace: 2, shmDevices: [DeviceID(major: 0, minor: 77)],
            cgroup: "4:memory:/docker/\(Self.dockerID)\n1:cpu:/docker/\(Self.dockerID)\n0::/\n")
        try fake.write("host/sys/fs/cgroup/memory/docker/\(Self.dockerID)/memory.limit_in_bytes", "134217728\n")
        let snapshot = HostPass(fake.configuration()).run()
        let mount = try #require(snapshot.mount(DeviceID(major: 0, minor: 77)))
        #expect(mount.container.runtime == .docker && mount.container.memoryMax == 128 << 20)
    }

    @Test("several namespaces on one tmpfs make one mount (docker --ipc=shareable, --ipc=host)")
    func sharedMount() throws {
        let fake = try FakeProc()
        defer { fake.remove() }
        try fake.link("proc/self", to: "1")
        try fake.process(1, mountNamespace: 1, shmDevices: [])
        for (pid, namespace) in [(10, 10), (20, 20), (21, 20)] as [(Int32, UInt64)] {
            try fake.process(pid, mountNamespace: namespace, shmDevices: [DeviceID(major: 0, minor: 50)])
        }
        let snapshot = HostPass(fake.configuration()).run()
        let shared = snapshot.mounts.filter { !$0.isServer }
        #expect(shared.count == 1)
        #expect(shared.first?.namespaces == [10, 20] && shared.first?.pids == [10, 20, 21])
    }

    @Test("kernel threads (an empty maps file) are no namespace's processes")
    func kernelThreads() throws {
        let fake = try FakeProc()
        defer { fake.remove() }
        try fake.link("proc/self", to: "1")
        for pid: Int32 in [1, 2, 3] {
            try fake.process(pid, mountNamespace: 1, shmDevices: [DeviceID(major: 0, minor: 50)])
        }
        try fake.write("proc/2/maps", "")
        let snapshot = HostPass(fake.configuration()).run()
        #expect(snapshot.namespaces[1]?.pids == [1, 3])
        #expect(snapshot.mount(DeviceID(major: 0, minor: 50))?.pids == [1, 3])
    }

    @Test("the scanner shares one pass among readers until it is a second old")
    func sharing() throws {
        let fake = try Self.host()
        defer { fake.remove() }
        let scanner = HostScanner(fake.configuration())
        let first = scanner.snapshot()
        let second = scanner.snapshot()
        #expect(first.takenAt == second.takenAt)
        #expect(scanner.passesRun == 1)
        scanner.invalidate()
        _ = scanner.snapshot()
        #expect(scanner.passesRun == 2)
    }

    @Test(
        "a pass takes the server's own mount from a recent listing, a fresh snapshot never; the snapshot is as old as it"
    )
    func ownMountFromListing() throws {
        let (fake, status, scanner) = try Self.scannedHost()
        defer { fake.remove() }
        scanner.takeOwnMount { since in DirectoryListing(takenAt: since, objects: [("listed", status)]) }
        let invalidated = monotonicNow()
        scanner.invalidate()
        let snapshot = scanner.snapshot()
        #expect(snapshot.mounts[0].entries.map(\.name) == ["listed"])
        #expect(snapshot.mounts[0].entries[0].facts.size == 1000)
        #expect(snapshot.takenAt >= invalidated, "no listing from before an invalidate")
        #expect(snapshot.mounts[1].entries.isEmpty, "other mounts are listed by the pass")
        #expect(scanner.freshSnapshot().mounts[0].entries.map(\.name) == ["a", "sem.x"])
        scanner.takeOwnMount { _ in nil }
        scanner.invalidate()
        #expect(scanner.snapshot().mounts[0].entries.map(\.name) == ["a", "sem.x"])
    }

    @Test("a pass waits for the listing under way once it read the processes, and lists for itself when it got none")
    func ownMountUnderWay() throws {
        let (fake, status, scanner) = try Self.scannedHost()
        defer { fake.remove() }
        let ready = Mutex(-Double.infinity)
        scanner.takeOwnMount(
            from: { _ in nil },
            underWay: { _ in
                ListingUnderWay {
                    // Done a moment after the pass started: the snapshot is dated by the pass's start.
                    let takenAt = monotonicNow()
                    ready.withLock { $0 = takenAt }
                    return DirectoryListing(takenAt: takenAt, objects: [("listed", status)])
                }
            })
        let before = monotonicNow()
        scanner.invalidate()
        let snapshot = scanner.snapshot()
        #expect(snapshot.mounts[0].entries.map(\.name) == ["listed"])
        #expect(snapshot.mounts[0].entries[0].facts.size == 1000)
        #expect(snapshot.takenAt >= before && snapshot.takenAt <= ready.withLock { $0 })
        #expect(snapshot.mounts[0].pids.isEmpty == false, "the processes were read all the same")
        scanner.takeOwnMount(from: { _ in nil }, underWay: { _ in ListingUnderWay { nil } })
        scanner.invalidate()
        #expect(scanner.snapshot().mounts[0].entries.map(\.name) == ["a", "sem.x"], "no listing came: listed here")
    }

    @Test("the light pass: new namespaces at once, a new process's late unshare, an old one's within ten rounds")
    func lightPassReadsLittle() throws {
        let fake = try Self.host()
        defer { fake.remove() }
        let pass = HostPass(fake.configuration())
        var cache = MembershipCache()
        var members = pass.mountMembers(reusing: &cache, now: 1000)
        #expect(members[Self.container] == [200, 201])
        #expect(cache.processes.count == 5 && cache.devices.count == 3)
        // A process that starts in the host's namespace and enters a container's a moment later.
        try fake.process(400, mountNamespace: 1001, shmDevices: [fake.realDevice])
        members = pass.mountMembers(reusing: &cache, now: 1002)
        #expect(members[Self.container] == [200, 201])
        try FileManager.default.removeItem(atPath: fake.proc + "/400/ns/mnt")
        try fake.link("proc/400/ns/mnt", to: "mnt:[4004]")
        members = pass.mountMembers(reusing: &cache, now: 1003)
        #expect(members[DeviceID(major: 0, minor: 77)] == nil, "unshared, its tmpfs not mounted yet")
        try fake.write("proc/400/mountinfo", "30 22 0:77 / /dev/shm rw - tmpfs shm rw\n")
        members = pass.mountMembers(reusing: &cache, now: 1004)
        #expect(members[DeviceID(major: 0, minor: 77)] == [400], "read again while it is young")
        // An old process that moves is seen within `rotation` rounds; one that exits at once.
        try FileManager.default.removeItem(atPath: fake.proc + "/300/ns/mnt")
        try fake.link("proc/300/ns/mnt", to: "mnt:[4004]")
        var rounds = 0
        while members[DeviceID(major: 0, minor: 77)] != [300, 400] && rounds < MembershipCache.rotation + 1 {
            rounds += 1
            members = pass.mountMembers(reusing: &cache, now: 2000 + Double(rounds))
        }
        #expect(members[DeviceID(major: 0, minor: 77)] == [300, 400])
        #expect(rounds <= MembershipCache.rotation)
        try FileManager.default.removeItem(atPath: fake.proc + "/201")
        members = pass.mountMembers(reusing: &cache, now: 3000)
        #expect(members[Self.container] == [200])
        try FileManager.default.removeItem(atPath: fake.proc + "/200")
        members = pass.mountMembers(reusing: &cache, now: 3001)
        #expect(members[Self.container] == nil && cache.devices[2002] == nil, "a namespace without processes goes")
    }

    @Test("the light pass skips a round when loadavg says no task was made or ended, at most four in a row")
    func lightPassSkipsAStillHost() throws {
        let fake = try Self.host()
        defer { fake.remove() }
        let pass = HostPass(fake.configuration())
        var cache = MembershipCache()
        try fake.write("proc/loadavg", "0.10 0.20 0.30 1/500 4242\n")
        var members = pass.mountMembers(reusing: &cache, now: 1000)
        #expect(members[Self.container] == [200, 201])
        // A process whose making loadavg does not show (as the fake's never do) is not looked for...
        try fake.process(400, mountNamespace: 2002, shmDevices: [Self.container])
        members = pass.mountMembers(reusing: &cache, now: 1005)
        #expect(members[Self.container] == [200, 201, 400], "not while the first processes are settling")
        try fake.process(401, mountNamespace: 2002, shmDevices: [Self.container])
        for round in 0..<MembershipCache.maximumSkips {
            members = pass.mountMembers(reusing: &cache, now: 1020 + Double(round))
            #expect(members[Self.container] == [200, 201, 400])
        }
        // ...until the skips run out, or loadavg changes.
        members = pass.mountMembers(reusing: &cache, now: 1030)
        #expect(members[Self.container] == [200, 201, 400, 401])
        try FileManager.default.removeItem(atPath: fake.proc + "/401")
        members = pass.mountMembers(reusing: &cache, now: 1041)
        #expect(members[Self.container] == [200, 201, 400, 401], "skipped: loadavg unchanged")
        try fake.write("proc/loadavg", "0.10 0.20 0.30 1/499 4242\n")
        members = pass.mountMembers(reusing: &cache, now: 1042)
        #expect(members[Self.container] == [200, 201, 400])
        #expect(MembershipCache.tasks("0.10 0.20 0.30 1/499 4242\n") == "499 4242\n")
        #expect(MembershipCache.tasks("garbage") == nil)
    }
}

@Suite("One pass over this machine's /proc")
struct LivePassTests {
    @Test("an object unlinked while this process holds and maps it is seen by device and inode")
    func unlinkedHeld() throws {
        let name = "hostscan-test-\(getpid())"
        let descriptor = open("/dev/shm/" + name, O_CREAT | O_RDWR | O_EXCL, 0o600)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        #expect(ftruncate(descriptor, 8192) == 0)
        let base = mmap(nil, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
        try #require(base != MAP_FAILED)
        defer { munmap(base, 8192) }
        base!.storeBytes(of: 7, as: UInt8.self)
        unlink("/dev/shm/" + name)
        var info = stat()
        fstat(descriptor, &info)
        let id = ObjectID(device: DeviceID(UInt64(info.st_dev)), inode: UInt64(info.st_ino))
        let snapshot = HostPass(HostScanConfiguration()).run()
        let seen = try #require(snapshot.objects[id])
        #expect(seen.kind == .unlinked && seen.name == name)
        #expect(seen.holders.contains { $0.pid == getpid() && $0.fd == descriptor })
        #expect(seen.mappers.contains { $0.pid == getpid() && $0.end - $0.start == 8192 })
        #expect(seen.facts?.size == 8192 && seen.facts?.allocatedBytes == 4096)
        #expect(snapshot.ownPid == getpid())
        #expect(snapshot.mounts.first?.isServer == true)
    }
}
