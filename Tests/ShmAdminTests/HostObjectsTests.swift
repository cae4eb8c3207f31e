import JSON
import Testing

@testable import HostScan
@testable import ShmAdmin

/// The inventory's objects and the host metrics from a snapshot made by hand: no /proc, no root.
@Suite struct HostObjectsTests {
    static let own = DeviceID(major: 0, minor: 27)
    static let container = DeviceID(major: 0, minor: 99)
    static let dockerID = String(repeating: "ab", count: 32)

    static func facts(size: Int64, allocated: Int64, mode: UInt32 = 0o600) -> FileFacts {
        FileFacts(size: size, allocatedBytes: allocated, mode: mode, uid: 0, gid: 0, modifiedAt: 1e9, changedAt: 1e9)
    }

    /// The server (pid 10) on 0:27; a docker container (200, 201) on 0:99 with a mapped object, an
    /// unused sparse one and a semaphore; a System V segment 200 attaches; a memfd 200 holds; an
    /// object unlinked on 0:99 that 201 maps.
    static func snapshot() -> HostSnapshot {
        var snapshot = HostSnapshot()
        snapshot.ownPid = 10
        snapshot.ownMountNamespace = 1
        snapshot.ownIPCNamespace = 5
        snapshot.processes = [10: (1, 5), 200: (2, 5), 201: (2, 5)]
        snapshot.commands = [200: "postgres", 201: "worker"]
        let docker = Container(runtime: .docker, id: dockerID, memoryMax: 1 << 30)
        snapshot.namespaces = [
            1: MountNamespace(inode: 1, pids: [10], shmDevice: own, container: .none),
            2: MountNamespace(inode: 2, pids: [200, 201], shmDevice: container, container: docker),
        ]
        snapshot.mounts = [
            ShmMount(
                device: own, path: "/dev/shm", isServer: true, reachedThrough: "/dev/shm", namespaces: [1], pids: [10],
                container: .none, capacity: nil, entries: []),
            ShmMount(
                device: container, path: "/dev/shm", isServer: false, reachedThrough: "/proc/200/root/dev/shm",
                namespaces: [2], pids: [200, 201], container: docker,
                capacity: Capacity(
                    sizeBytes: 64 << 20, freeBytes: 1 << 20, usedBytes: 63 << 20, inodes: 10, inodesFree: 5),
                entries: [
                    MountEntry(name: "data", inode: 55, facts: facts(size: 8192, allocated: 8192)),
                    MountEntry(name: "sparse", inode: 56, facts: facts(size: 4 << 20, allocated: 0, mode: 0o644)),
                    MountEntry(name: "sem.lock", inode: 57, facts: facts(size: 32, allocated: 4096)),
                ]),
        ]
        let data = ObjectID(device: container, inode: 55)
        snapshot.objects[data] = SeenObject(
            id: data, kind: .named, path: "/dev/shm/data",
            mappers: [
                Mapping(pid: 200, start: 0x1000, end: 0x3000, offset: 0, writable: true),
                Mapping(pid: 200, start: 0x8000, end: 0x9000, offset: 0, writable: false),
                Mapping(pid: 10, start: 0x5000, end: 0x7000, offset: 0, writable: false),
            ], holders: [Holding(pid: 201, fd: 4)])
        let memfd = ObjectID(device: DeviceID(major: 0, minor: 1), inode: 2049)
        snapshot.objects[memfd] = SeenObject(
            id: memfd, kind: .memfd, path: "/memfd:wayland", holders: [Holding(pid: 200, fd: 7)],
            facts: facts(size: 12288, allocated: 4096))
        let gone = ObjectID(device: container, inode: 60)
        snapshot.objects[gone] = SeenObject(
            id: gone, kind: .unlinked, path: "/dev/shm/gone",
            mappers: [Mapping(pid: 201, start: 0x10000, end: 0x12000, offset: 0, writable: true)])
        snapshot.sysv = [
            SysVSegment(
                ipc: 5, key: 0x0052_e2c1, shmid: 3, mode: 0o1600, size: 1 << 20, cpid: 200, lpid: 200, nattch: 1,
                uid: 999,
                gid: 999, cuid: 999, cgid: 999, attachedAt: 1, detachedAt: 0, changedAt: 1, rssBytes: 8192,
                swapBytes: 4096)
        ]
        snapshot.sysvMappers[SysVID(ipc: 5, shmid: 3)] = [
            Mapping(pid: 200, start: 0x20000, end: 0x120000, offset: 0, writable: true)
        ]
        return snapshot
    }

    @Test func everyKindBecomesAnObjectWithItsHrefMountAndCounts() {
        let snapshot = Self.snapshot()
        let objects = Dictionary(
            uniqueKeysWithValues: HostObjects.all(snapshot, own: []).map { ($0.href, $0) })
        #expect(objects.count == 6)
        let data = objects["/api/v1/mounts/0:99/sections/data"]!
        #expect(data.kind == .shm && data.mount == Self.container && data.size == 8192 && data.unbackedBytes == 0)
        #expect(data.mappers == 1, "distinct processes other than the server")
        #expect(data.holders == 1 && !data.orphan)
        #expect(data.container.runtime == .docker && data.container.id == Self.dockerID)
        let sparse = objects["/api/v1/mounts/0:99/sections/sparse"]!
        #expect(sparse.orphan && sparse.unbackedBytes == 4 << 20 && sparse.mappers == 0)
        #expect(objects["/api/v1/mounts/0:99/sections/sem.lock"]?.kind == .semaphore)
        let segment = objects["/api/v1/sysv/5/3"]!
        #expect(segment.kind == .sysv && segment.name == "0x0052e2c1" && segment.mount == nil)
        #expect(segment.allocatedBytes == 12288, "rss + swap")
        #expect(segment.mappers == 1 && !segment.orphan && segment.mode == 0o600)
        let memfd = objects["/api/v1/unlinked/0-1:2049"]!
        #expect(memfd.kind == .memfd && memfd.name == "wayland" && memfd.mount == nil && memfd.path == nil)
        #expect(memfd.holders == 1 && memfd.unbackedBytes == 8192 && !memfd.orphan)
        let gone = objects["/api/v1/unlinked/0-99:60"]!
        #expect(gone.kind == .unlinked && gone.mount == Self.container && gone.path == "/dev/shm/gone")
        #expect(gone.size == 8192, "no facts: the extent of its mappings")
        #expect(gone.container.runtime == .docker)
    }

    @Test func objectJSONHasTheSectionMembersAndTheInventorys() {
        let snapshot = Self.snapshot()
        let sparse = HostObjects.files(of: snapshot.mounts[1], snapshot)[1]
        let text = String(decoding: sparse.jsonBytes(), as: UTF8.self)
        for member in [
            "\"name\":\"sparse\"", "\"kind\":\"shm\"", "\"managed\":false", "\"namespace\":\"global\"",
            "\"reserve\":null", "\"commit\":4194304", "\"dataBytes\":null", "\"mode\":\"0644\"",
            "\"createdAt\":\"2001-09-09T01:46:40Z\"", "\"views\":0", "\"labels\":{}", "\"mount\":\"0:99\"",
            "\"size\":4194304", "\"unbackedBytes\":4194304", "\"holders\":0",
            "\"container\":{\"runtime\":\"docker\",\"id\":\"\(Self.dockerID)\",\"pod\":null}",
        ] {
            #expect(text.contains(member), "\(member) in \(text)")
        }
    }

    @Test func mountJSONSumsExposureAndSaysExposed() {
        let text = String(decoding: MountJSON(mount: Self.snapshot().mounts[1]).jsonBytes(), as: UTF8.self)
        #expect(text.contains("\"objects\":3"))
        #expect(text.contains("\"exposureBytes\":4194304,\"exposed\":true"), "4 MiB unbacked, 1 MiB free")
        #expect(text.contains("\"processes\":2,\"pids\":[200,201]"))
        #expect(text.contains("\"memoryMax\":1073741824"))
        let unreachable = MountJSON(mount: Self.snapshot().mounts[0]).jsonBytes()
        #expect(String(decoding: unreachable, as: UTF8.self).contains("\"sizeBytes\":null"))
    }

    @Test func hostMetricsCountByKindAndMountAndCapTheUnbackedSeries() {
        let text = HostMetrics.render(Self.snapshot(), version: "1.2.3", sectionCap: 1)
        #expect(text.contains("shm_admin_build_info{version=\"1.2.3\",revision=\"unknown\"} 1\n"))
        #expect(text.contains("shm_admin_objects{kind=\"shm\",mount=\"0:99\"} 2\n"))
        #expect(text.contains("shm_admin_objects{kind=\"semaphore\",mount=\"0:99\"} 1\n"))
        #expect(text.contains("shm_admin_objects{kind=\"memfd\",mount=\"\"} 1\n"))
        #expect(text.contains("shm_admin_objects{kind=\"unlinked\",mount=\"0:99\"} 1\n"))
        #expect(text.contains("shm_admin_object_bytes{kind=\"sysv\",mount=\"\"} 12288\n"))
        #expect(
            text.contains(
                "shm_admin_mount_size_bytes{mount=\"0:99\",path=\"/dev/shm\",container=\"docker:\(Self.dockerID)\"} 67108864\n"
            ))
        #expect(!text.contains("shm_admin_mount_size_bytes{mount=\"0:27\""), "an unreachable mount has no gauges")
        #expect(text.contains("shm_admin_orphan_bytes{mount=\"0:99\"} 4096\n"), "sem.lock: nobody uses it")
        let unbacked = text.split(separator: "\n").filter { $0.hasPrefix("shm_admin_unbacked_bytes{") }
        #expect(unbacked == ["shm_admin_unbacked_bytes{section=\"sparse\",mount=\"0:99\"} 4194304"], "capped at 1")
        #expect(text.contains("shm_admin_sysv_segments 1\n"))
    }

    @Test func namesAndKeysAsTheAPIWritesThem() {
        #expect(HostObjects.keyText(0) == "0x00000000")
        #expect(HostObjects.keyText(-1) == "0xffffffff")
        #expect(Hrefs.segment("a b/c%é") == "a%20b%2Fc%25%C3%A9")
        #expect(HostMetrics.labels(Self.snapshot().mounts[0]) == "mount=\"0:27\",path=\"/dev/shm\",container=\"\"")
    }
}
