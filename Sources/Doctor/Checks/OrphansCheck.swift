import HostScan

/// `orphans`: on a mount, orphans idle for the grace period holding 64 MiB or more, or 100 or more
/// of them, or their number rising over the last hour of history.
public struct OrphansCheck: DoctorCheck {
    public static let id = "orphans"
    public static let bytesThreshold: Int64 = 64 << 20
    public static let countThreshold = 100
    /// Rising: at least this many more than the oldest sample of the last hour, which must be at
    /// least `minimumWindow` old, and never fewer in between than that oldest sample.
    public static let risingBy = 10
    public static let window = 3600.0
    public static let minimumWindow = 600.0

    public init() {}

    public func findings(_ input: DoctorInput) -> [Finding] {
        let snapshot = input.snapshot
        let grace = input.configuration.graceSeconds
        return snapshot.mounts.compactMap { mount in
            let orphans = Orphans.idle(on: mount, snapshot, graceSeconds: grace, now: input.now)
            let bytes = orphans.reduce(Int64(0)) { $0 + $1.facts.allocatedBytes }
            let rise = Self.rise(of: mount.device, input.history, now: input.now, current: orphans.count)
            let large = bytes >= Self.bytesThreshold || orphans.count >= Self.countThreshold
            guard !orphans.isEmpty, large || rise != nil else { return nil }
            var detail =
                "\(orphans.count) object\(orphans.count == 1 ? "" : "s") (\(Bytes.text(bytes))) on \(mount.path) "
                + "(\(mount.device)): no process maps, holds or locks them and none changed for \(Int(grace)) s."
            var evidence: [String: Evidence] = [
                "mount": .text(mount.device.description), "count": .int(Int64(orphans.count)), "bytes": .int(bytes),
                "graceSeconds": .int(Int64(grace)),
            ]
            if let rise {
                detail +=
                    " Their number rose from \(rise.from) to \(orphans.count) in \(Int(rise.seconds / 60)) minutes: a leak."
                evidence["countBefore"] = .int(Int64(rise.from))
                evidence["windowSeconds"] = .int(Int64(rise.seconds))
            }
            let largest = orphans.sorted { $0.facts.allocatedBytes > $1.facts.allocatedBytes }.prefix(50)
            return Finding(
                id: Self.id, severity: .warning,
                title: "\(orphans.count) orphaned object\(orphans.count == 1 ? "" : "s") on \(mount.device)",
                detail: detail, subjects: largest.map { Hrefs.file($0.name, of: mount) }, evidence: evidence,
                fix:
                    "Review them with POST /api/v1/reclaim {\"dryRun\": true, \"mounts\": [\"\(mount.device)\"]}, then "
                    + "reclaim with dryRun false (they are quarantined, restorable for a day); and fix the program "
                    + "that creates them and exits without shm_unlink.",
                scope: mount.device.description)
        }
    }

    /// The count an hour (or at least ten minutes) ago when the count rose since, else nil.
    static func rise(of device: DeviceID, _ history: [HistorySample], now: Double, current: Int)
        -> (from: Int, seconds: Double)?
    {
        let samples = history.filter { now - $0.time <= Self.window }.compactMap { sample in
            sample.mounts.first { $0.device == device }.map { (time: sample.time, count: $0.orphans) }
        }
        guard let first = samples.first, now - first.time >= minimumWindow else { return nil }
        guard current - first.count >= risingBy, samples.allSatisfy({ $0.count >= first.count }) else { return nil }
        return (first.count, now - first.time)
    }
}
