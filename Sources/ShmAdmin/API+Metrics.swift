import Doctor
import HTTPServer
import HostScan
import SectionRegistry

extension API {
    /// A pass over /proc that costs more CPU than this, in seconds (a host of a thousand processes
    /// or ten thousand objects), is not made for each scrape (`metricsSnapshot`).
    static let expensivePass = 0.05

    /// `GET /metrics`: version 1's series, then API-HOST.md's, the doctor's and reclaim's.
    func metricsText() -> HTTPResponse {
        let (snapshot, periodic) = metricsSnapshot()
        // Version 1's series list the directory now; who maps the sections is the snapshot's.
        let evidence = periodic ? HostProcessView.view(of: snapshot, device: DeviceID(registry.directory.device)) : nil
        // Appended to the first part's storage: `a + b + c` copies the whole text at each `+`.
        var text = metrics.render(registry: registry, evidence: evidence)
        text += HostMetrics.render(snapshot, version: version, sectionCap: metrics.sectionCap)
        text += doctor.renderMetrics()
        text += ReclaimMetrics.render(quarantine, mounts: snapshot.mounts)
        return HTTPResponse.text(text, contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    /// What a scrape reports. Where a pass is cheap, a second-old one, like every reader's. Where
    /// the last cost more than `expensivePass` of CPU, a scrape every 15 s would cost a pass each:
    /// the scrape takes the doctor's last periodic run instead (`periodic`: each mount's objects as
    /// read at most 20 s ago, who maps them from a pass up to a minute old), with every mount's
    /// size, use and free space read now. API-DETAILS.md says so.
    func metricsSnapshot() -> (snapshot: HostSnapshot, periodic: Bool) {
        if host.lastPassCPUSeconds > expensivePass,
            let run = doctor.lastRunSnapshot(maximumAge: 2 * HistoryRing.interval)
        {
            return (host.withCurrentCapacity(run), true)
        }
        return (host.snapshot(), false)
    }
}
