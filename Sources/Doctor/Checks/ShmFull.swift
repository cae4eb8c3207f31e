import HostScan

/// `shm-full`: a mount's used bytes or inodes against its size; critical at 95 %, warning at 80 %.
public struct ShmFull: DoctorCheck {
    public static let id = "shm-full"
    public static let critical = 0.95
    public static let warning = 0.80

    public init() {}

    public func findings(_ input: DoctorInput) -> [Finding] {
        input.snapshot.mounts.compactMap { mount in
            guard let capacity = mount.capacity, capacity.sizeBytes > 0 else { return nil }
            let bytesUsed = Double(capacity.usedBytes) / Double(capacity.sizeBytes)
            let inodesUsed =
                capacity.inodes > 0 ? Double(capacity.inodes - capacity.inodesFree) / Double(capacity.inodes) : 0
            let worst = max(bytesUsed, inodesUsed)
            let severity: Finding.Severity
            if worst >= Self.critical {
                severity = .critical
            } else if worst >= Self.warning {
                severity = .warning
            } else {
                return nil
            }
            let largest = mount.entries.sorted { $0.facts.allocatedBytes > $1.facts.allocatedBytes }.prefix(5)
            let what =
                bytesUsed >= inodesUsed
                ? "\(Bytes.text(capacity.usedBytes)) of \(Bytes.text(capacity.sizeBytes)) used "
                    + "(\(Bytes.percent(capacity.usedBytes, of: capacity.sizeBytes)) %), \(Bytes.text(capacity.freeBytes)) free."
                : "\(capacity.inodes - capacity.inodesFree) of \(capacity.inodes) inodes used."
            return Finding(
                id: Self.id, severity: severity,
                title: "Shared memory on \(mount.device) is \(Int(worst * 100)) % full",
                detail: "\(mount.path) (\(mount.device)): " + what
                    + " Creating or growing an object there fails, and writers into sparse objects die of SIGBUS.",
                subjects: [Hrefs.mount(mount.device)] + largest.map { Hrefs.file($0.name, of: mount) },
                evidence: [
                    "mount": .text(mount.device.description), "sizeBytes": .int(capacity.sizeBytes),
                    "usedBytes": .int(capacity.usedBytes), "freeBytes": .int(capacity.freeBytes),
                    "inodes": .int(capacity.inodes), "inodesFree": .int(capacity.inodesFree),
                    "usedPercent": .number((worst * 1000).rounded() / 10),
                ],
                fix: Fixes.grow(mount, to: Bytes.suggestion(atLeast: capacity.sizeBytes))
                    + " Look for leaks first: POST /api/v1/reclaim {\"dryRun\": true, \"mounts\": [\"\(mount.device)\"]}.",
                scope: mount.device.description)
        }
    }
}
