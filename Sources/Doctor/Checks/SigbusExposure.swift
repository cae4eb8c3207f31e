import HostScan

/// `sigbus-exposure`: a mount's exposure (the unbacked bytes of its objects) against its free
/// bytes; critical when it exceeds them, warning past half of them. A reset range of a managed
/// section is unbacked too, so it counts.
public struct SigbusExposure: DoctorCheck {
    public static let id = "sigbus-exposure"

    public init() {}

    public func findings(_ input: DoctorInput) -> [Finding] {
        let snapshot = input.snapshot
        return snapshot.mounts.compactMap { mount in
            guard let capacity = mount.capacity else { return nil }
            let exposure = mount.exposureBytes
            guard exposure > 0 else { return nil }
            let severity: Finding.Severity
            if exposure > capacity.freeBytes {
                severity = .critical
            } else if exposure * 2 > capacity.freeBytes {
                severity = .warning
            } else {
                return nil
            }
            let unbacked = mount.entries.filter { $0.facts.unbackedBytes > 0 }
                .sorted { $0.facts.unbackedBytes > $1.facts.unbackedBytes }
            let mapped = unbacked.filter { !(snapshot.objects[mount.objectID($0)]?.mappers.isEmpty ?? true) }
            let pids = Set(mapped.flatMap { snapshot.objects[mount.objectID($0)]!.mappers.map(\.pid) }).sorted()
            var detail =
                "\(unbacked.count) object\(unbacked.count == 1 ? " has" : "s have") \(Bytes.text(exposure)) without memory "
                + "behind them; the tmpfs has \(Bytes.text(capacity.freeBytes)) free. "
            detail +=
                mapped.isEmpty
                ? "No process maps them now, but the next writer will need fresh pages."
                : "\(pids.count) process\(pids.count == 1 ? "" : "es") map\(pids.count == 1 ? "s" : "") them "
                    + "and die\(pids.count == 1 ? "s" : "") of SIGBUS when a write finds no free page."
            if mount.isServer {
                detail += " Ranges given back by reset count as unbacked too."
            }
            return Finding(
                id: Self.id, severity: severity,
                title: severity == .critical
                    ? "Writers on \(mount.device) can die of SIGBUS" : "Writers on \(mount.device) are close to SIGBUS",
                detail: detail, subjects: mapped.map { Hrefs.file($0.name, of: mount) },
                evidence: [
                    "mount": .text(mount.device.description), "exposureBytes": .int(exposure),
                    "freeBytes": .int(capacity.freeBytes), "sizeBytes": .int(capacity.sizeBytes),
                    "objects": .int(Int64(unbacked.count)), "mappedObjects": .int(Int64(mapped.count)),
                    "pids": .list(pids.prefix(16).map { .int(Int64($0)) }),
                ],
                fix: Fixes.grow(
                    mount, to: Bytes.suggestion(atLeast: capacity.sizeBytes - capacity.freeBytes + exposure))
                    + " Or have the writers allocate up front (fallocate, posix_fallocate, shm-admin grow), so a full "
                    + "tmpfs fails the allocation instead of killing a writer.",
                scope: mount.device.description)
        }
    }
}
