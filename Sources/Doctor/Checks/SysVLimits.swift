import HostScan

#if canImport(Glibc)
    import Glibc
#endif

/// `sysv-limits`: System V segments against `kernel.shmmni` and their pages against
/// `kernel.shmall`, in the server's IPC namespace (whose limits the scan read); warning at 80 %.
public struct SysVLimitsCheck: DoctorCheck {
    public static let id = "sysv-limits"
    public static let warning = 0.80

    public init() {}

    public func findings(_ input: DoctorInput) -> [Finding] {
        let snapshot = input.snapshot
        let limits = snapshot.sysvLimits
        let segments = snapshot.sysv.filter { $0.ipc == snapshot.ownIPCNamespace }
        let page = Int64(max(1, sysconf(Int32(_SC_PAGESIZE))))
        let pages = segments.reduce(Int64(0)) { $0 + ($1.size + page - 1) / page }
        let segmentsFull = limits.shmmni.map { $0 > 0 ? Double(segments.count) / Double($0) : 0 } ?? 0
        let pagesFull = limits.shmall.map { $0 > 0 ? Double(pages) / Double($0) : 0 } ?? 0
        guard max(segmentsFull, pagesFull) >= Self.warning else { return [] }
        let what =
            segmentsFull >= pagesFull
            ? "\(segments.count) segments of kernel.shmmni = \(limits.shmmni ?? 0)"
            : "\(pages) pages of kernel.shmall = \(limits.shmall ?? 0)"
        let orphans = segments.filter { $0.nattch == 0 }
        return [
            Finding(
                id: Self.id, severity: .warning,
                title: "System V shared memory is at \(Int(max(segmentsFull, pagesFull) * 100)) % of its limit",
                detail:
                    "\(what) are in use; the next shmget fails with ENOSPC. \(orphans.count) segments have no process attached.",
                subjects: orphans.prefix(50).map(Hrefs.sysv),
                evidence: [
                    "segments": .int(Int64(segments.count)), "shmmni": limits.shmmni.map(Evidence.int) ?? .null,
                    "pages": .int(pages), "shmall": limits.shmall.map(Evidence.int) ?? .null,
                    "unattached": .int(Int64(orphans.count)),
                ],
                fix:
                    "Raise the limit: sysctl -w kernel.shmmni=\(max(4096, (limits.shmmni ?? 4096) * 2)) (kernel.shmall "
                    + "for pages), kept in /etc/sysctl.d/60-shm.conf; and remove leaked segments once reviewed: "
                    + "POST /api/v1/reclaim {\"dryRun\": true, \"kinds\": [\"sysv\"]} or ipcrm -m SHMID.")
        ]
    }
}
