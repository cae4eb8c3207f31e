import HostScan

/// `removeipc`: logind's effective `RemoveIPC` is yes and objects or System V segments of the
/// host are owned by non-system users, so they vanish when that user's last session ends.
/// Containers' mounts and IPC namespaces are out of logind's reach and not counted.
public struct RemoveIPC: DoctorCheck {
    public static let id = "removeipc"

    public init() {}

    public func findings(_ input: DoctorInput) -> [Finding] {
        let configuration = input.configuration
        guard configuration.logind.removeIPC else { return [] }
        let snapshot = input.snapshot
        let limit = configuration.systemUIDMax
        let hostMount = snapshot.processes[1]?.mount ?? snapshot.ownMountNamespace
        let hostIPC = snapshot.processes[1]?.ipc ?? snapshot.ownIPCNamespace
        var subjects: [String] = []
        var uids = Set<UInt32>()
        var bytes: Int64 = 0
        for mount in snapshot.mounts where mount.isServer || hostMount.map(mount.namespaces.contains) ?? false {
            for entry in mount.entries where entry.facts.uid > limit {
                subjects.append(Hrefs.file(entry.name, of: mount))
                uids.insert(entry.facts.uid)
                bytes += entry.facts.allocatedBytes
            }
        }
        for segment in snapshot.sysv where segment.ipc == hostIPC && segment.uid > limit {
            subjects.append(Hrefs.sysv(segment))
            uids.insert(segment.uid)
            bytes += segment.rssBytes + segment.swapBytes
        }
        guard !subjects.isEmpty else { return [] }
        let source = configuration.logind.source ?? "systemd's default (no RemoveIPC= set)"
        let users = uids.sorted()
        return [
            Finding(
                id: Self.id, severity: .warning,
                title:
                    "\(subjects.count) shared-memory object\(subjects.count == 1 ? "" : "s") vanish when their user logs out",
                detail:
                    "logind removes the IPC objects of a non-system user (uid above \(limit)) when that user's last "
                    + "session ends; RemoveIPC=yes comes from \(source). Owners: uid "
                    + users.map(String.init).joined(separator: ", ") + " (\(Bytes.text(bytes))).",
                subjects: subjects,
                evidence: [
                    "removeIPC": .bool(true), "source": configuration.logind.source.map(Evidence.text) ?? .null,
                    "sysUidMax": .int(Int64(limit)), "uids": .list(users.map { .int(Int64($0)) }),
                    "objects": .int(Int64(subjects.count)), "bytes": .int(bytes),
                ],
                fix:
                    "Put RemoveIPC=no under [Login] in a drop-in, /etc/systemd/logind.conf.d/50-shm.conf, then "
                    + "systemctl restart systemd-logind; or run the programs that own these objects as system users "
                    + "(useradd --system, uid at most \(limit)).")
        ]
    }
}
