import HostScan

/// `missing-sections`: managed sections whose object is gone (a reboot, someone's rm).
public struct MissingSections: DoctorCheck {
    public static let id = "missing-sections"

    public init() {}

    public func findings(_ input: DoctorInput) -> [Finding] {
        let names = input.missingSections.sorted()
        guard !names.isEmpty else { return [] }
        return [
            Finding(
                id: Self.id, severity: .info,
                title: "\(names.count) managed section\(names.count == 1 ? " is" : "s are") missing",
                detail:
                    "shm-admin keeps records of " + names.prefix(5).joined(separator: ", ")
                    + (names.count > 5 ? " and \(names.count - 5) more" : "")
                    + " but their objects are gone from the shm directory (a reboot empties a tmpfs).",
                subjects: names.map { "/api/v1/sections/" + Hrefs.segment($0) },
                evidence: ["names": .list(names.prefix(50).map(Evidence.text)), "count": .int(Int64(names.count))],
                fix:
                    "Recreate them (POST /api/v1/sections with the same name) or forget their records "
                    + "(DELETE /api/v1/sections/NAME).")
        ]
    }
}
