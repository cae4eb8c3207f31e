import HostScan

/// The doctor: every check of API-HOST.md's table over one input, findings worst first. Pure: the
/// same input gives the same findings, and nothing is read or changed on the host.
public enum Doctor {
    public static let checks: [any DoctorCheck] = [
        ShmFull(), ShmSmall(), SigbusExposure(), RemoveIPC(), SysVLimitsCheck(), OrphansCheck(), UnlinkedHeld(),
        MissingSections(), DeletedWhileMapped(),
    ]

    /// Every check id, in the table's order (metrics export each, found or not).
    public static let ids: [String] = checks.map { type(of: $0).id }

    public static func run(_ input: DoctorInput) -> [Finding] {
        checks.flatMap { $0.findings(input) }.sorted(by: Finding.worstFirst)
    }

    /// Findings per severity.
    public static func summary(_ findings: [Finding]) -> [Finding.Severity: Int] {
        var counts = Dictionary(uniqueKeysWithValues: Finding.Severity.allCases.map { ($0, 0) })
        for finding in findings { counts[finding.severity, default: 0] += 1 }
        return counts
    }
}
