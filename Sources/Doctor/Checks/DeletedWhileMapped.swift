import HostScan

/// `deleted-while-mapped`: in the last 24 h an object was unlinked while other processes mapped
/// it, the signature of logind's `RemoveIPC` (or a cleanup script guessing from names).
public struct DeletedWhileMapped: DoctorCheck {
    public static let id = "deleted-while-mapped"

    public init() {}

    public func findings(_ input: DoctorInput) -> [Finding] {
        let records = input.recentUnlinks.filter { input.now - $0.time <= UnlinkStore.keepSeconds }
            .sorted { $0.time > $1.time }
        guard let newest = records.first else { return [] }
        let who = newest.uid.map { "uid \($0)" } ?? "an unknown process"
        return [
            Finding(
                id: Self.id, severity: .warning,
                title: "\(records.count) object\(records.count == 1 ? " was" : "s were") deleted while mapped",
                detail:
                    "\(newest.name) on \(newest.mount) was unlinked by \(who) while \(newest.pids.count) "
                    + "process\(newest.pids.count == 1 ? "" : "es") mapped it; "
                    + "programs that open it by name again get a new, empty object.",
                subjects: records.prefix(50).map { Hrefs.unlinked($0.object) },
                evidence: [
                    "unlinks": .list(
                        records.prefix(50).map { record in
                            .object([
                                "name": .text(record.name), "mount": .text(record.mount.description),
                                "time": .number(record.time), "uid": record.uid.map { .int(Int64($0)) } ?? .null,
                                "pids": .list(record.pids.prefix(16).map { .int(Int64($0)) }),
                            ])
                        })
                ],
                fix:
                    "If logind did it (RemoveIPC=yes, the owner's session ended), set RemoveIPC=no in "
                    + "/etc/systemd/logind.conf.d/50-shm.conf or run the owner as a system user; otherwise find the "
                    + "cleanup job that deletes by name and have it use POST /api/v1/reclaim, which never takes a "
                    + "mapped object.")
        ]
    }
}
