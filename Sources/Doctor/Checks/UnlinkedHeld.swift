import HostScan

/// `unlinked-held`: memory held by unlinked objects, which no `ls` or `du` shows; info, warning
/// from 1 GiB.
public struct UnlinkedHeld: DoctorCheck {
    public static let id = "unlinked-held"
    public static let warningBytes: Int64 = 1 << 30

    public init() {}

    public func findings(_ input: DoctorInput) -> [Finding] {
        let snapshot = input.snapshot
        let held = snapshot.objects.values.filter { $0.kind == .unlinked }
            .sorted { ($0.facts?.allocatedBytes ?? 0) > ($1.facts?.allocatedBytes ?? 0) }
        guard !held.isEmpty else { return [] }
        let bytes = held.reduce(Int64(0)) { $0 + ($1.facts?.allocatedBytes ?? 0) }
        let pids = Set(held.flatMap { $0.mappers.map(\.pid) + $0.holders.map(\.pid) }).subtracting([snapshot.ownPid])
            .sorted()
        let commands = pids.prefix(5).map { "\(snapshot.commands[$0] ?? "?") (\($0))" }
        return [
            Finding(
                id: Self.id, severity: bytes >= Self.warningBytes ? .warning : .info,
                title: "\(Bytes.text(bytes)) held by \(held.count) unlinked object\(held.count == 1 ? "" : "s")",
                detail:
                    "These objects have no name any more (ls and df users do not see them) but processes still map or "
                    + "hold them, so their memory stays in use: " + commands.joined(separator: ", ") + ".",
                subjects: held.prefix(50).map { Hrefs.unlinked($0.id) },
                evidence: [
                    "bytes": .int(bytes), "objects": .int(Int64(held.count)),
                    "pids": .list(pids.prefix(16).map { .int(Int64($0)) }),
                ],
                fix:
                    "The memory returns when the processes holding them close them or exit: restart them if the "
                    + "memory is needed. Their bytes can be read before that through the objects' data URLs.")
        ]
    }
}
