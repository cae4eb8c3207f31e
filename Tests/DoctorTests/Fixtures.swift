import Foundation
import Testing

@testable import Doctor
@testable import HostScan

/// Hand-made host snapshots: mounts with files, processes mapping them, System V segments.
struct Host {
    static let now = 1_800_000_000.0
    static let mib: Int64 = 1 << 20
    var snapshot = HostSnapshot()

    init() {
        snapshot.wallTime = Self.now
        snapshot.ownPid = 10
        snapshot.ownMountNamespace = 4_026_531_840
        snapshot.ownIPCNamespace = 4_026_531_839
        snapshot.processes[1] = (mount: 4_026_531_840, ipc: 4_026_531_839)
        snapshot.processes[10] = (mount: 4_026_531_840, ipc: 4_026_531_839)
    }

    /// A mount of `size` bytes with `used` in use; the server's own unless a container is given.
    @discardableResult
    mutating func mount(
        _ minor: UInt32, size: Int64 = 1 << 30, used: Int64 = 0, inodes: Int64 = 1000, inodesUsed: Int64 = 10,
        container: Container = .none, server: Bool? = nil
    ) -> DeviceID {
        let device = DeviceID(major: 0, minor: minor)
        let isServer = server ?? (container.runtime == .none && snapshot.mounts.isEmpty)
        let namespace: UInt64 = container.runtime == .none ? 4_026_531_840 : 4_026_532_000 + UInt64(minor)
        snapshot.mounts.append(
            ShmMount(
                device: device, path: isServer ? "/srv/shm" : "/dev/shm", isServer: isServer,
                reachedThrough: "/proc/1/root/dev/shm", namespaces: [namespace], pids: [1], container: container,
                capacity: Capacity(
                    sizeBytes: size, freeBytes: size - used, usedBytes: used, inodes: inodes,
                    inodesFree: inodes - inodesUsed), entries: []))
        return device
    }

    /// A file on a mount; `mappedBy` processes map it, `age` seconds since it changed.
    mutating func file(
        _ name: String, on device: DeviceID, size: Int64, allocated: Int64? = nil, uid: UInt32 = 0,
        age: Double = 3600, mappedBy pids: [Int32] = []
    ) {
        let index = snapshot.mounts.firstIndex { $0.device == device }!
        let inode = UInt64(snapshot.mounts[index].entries.count + 100)
        let facts = FileFacts(
            size: size, allocatedBytes: allocated ?? size, mode: 0o600, uid: uid, gid: 0,
            modifiedAt: Self.now - age, changedAt: Self.now - age)
        snapshot.mounts[index].entries.append(MountEntry(name: name, inode: inode, facts: facts))
        guard !pids.isEmpty else { return }
        let id = ObjectID(device: device, inode: inode)
        var seen = SeenObject(id: id, kind: .named, path: "/dev/shm/" + name)
        seen.mappers = pids.map {
            Mapping(pid: $0, start: 0x7000_0000, end: 0x7000_0000 + UInt64(size), offset: 0, writable: true)
        }
        seen.facts = facts
        snapshot.objects[id] = seen
    }

    mutating func segment(_ shmid: Int32, size: Int64 = 1 << 20, uid: UInt32 = 0, nattch: Int64 = 1) {
        snapshot.sysv.append(
            SysVSegment(
                ipc: 4_026_531_839, key: shmid, shmid: shmid, mode: 0o600, size: size, cpid: 1, lpid: 1,
                nattch: nattch, uid: uid, gid: 0, cuid: uid, cgid: 0, attachedAt: 0, detachedAt: 0, changedAt: 0,
                rssBytes: size, swapBytes: 0))
    }

    mutating func unlinked(_ inode: UInt64, allocated: Int64, heldBy pid: Int32 = 42) {
        let id = ObjectID(device: DeviceID(major: 0, minor: 40), inode: inode)
        var seen = SeenObject(id: id, kind: .unlinked, path: "/dev/shm/gone\(inode)")
        seen.holders = [Holding(pid: pid, fd: 5)]
        seen.facts = FileFacts(
            size: allocated, allocatedBytes: allocated, mode: 0o600, uid: 0, gid: 0, modifiedAt: Self.now,
            changedAt: Self.now)
        snapshot.objects[id] = seen
        snapshot.commands[pid] = "worker"
    }

    func run(
        _ configuration: DoctorConfiguration = DoctorConfiguration(logind: LogindSettings(removeIPC: false)),
        history: [HistorySample] = [], missing: [String] = [], unlinks: [UnlinkRecord] = []
    ) -> [Finding] {
        Doctor.run(
            DoctorInput(
                snapshot: snapshot, configuration: configuration, history: history, missingSections: missing,
                recentUnlinks: unlinks))
    }
}

extension [Finding] {
    func only(_ id: String) -> [Finding] { filter { $0.id == id } }
}

/// A prepared `--root-dir` tree in a temporary directory.
final class RootTree {
    let root: String

    init() throws {
        var template = Array("/tmp/doctor-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        root = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    func write(_ path: String, _ text: String) throws {
        let full = root + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
    }

    func link(_ path: String, to target: String) throws {
        let full = root + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target)
    }
}
