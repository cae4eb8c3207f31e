import HTTPServer
import HostScan
import JSON
import Reclaim
import SectionRegistry

/// `POST /api/v1/reclaim` and the quarantine (API-HOST.md "Reclaim"): the HTTP face of `Reclaimer`
/// and `Quarantine`, which hold the protocol.
extension API {
    /// Made off the server's workers: a reclaim walks /proc three times and fsyncs a record per object.
    func reclaim(_ request: HTTPRequest) throws -> HTTPResponse {
        let order = try reclaimRequest(request)
        return offTheWorkers(request) { [self] in
            let report = reclaimer.run(order)
            return .json(ReclaimReportJSON(report: report), capacity: 256 + report.candidates.count * 700)
        }
    }

    func reclaimRequest(_ request: HTTPRequest) throws(APIFailure) -> ReclaimRequest {
        let body = try JSONBody(
            request, allowed: ["dryRun", "olderThan", "kinds", "mounts", "exclude", "mode"], optional: true)
        var order = ReclaimRequest()
        order.dryRun = try body.bool("dryRun") ?? true
        order.olderThan = try body.duration("olderThan")
        if let kinds = try body.strings("kinds") {
            order.kinds = []
            for kind in kinds {
                guard let known = ReclaimRequest.Kind(rawValue: kind) else {
                    throw APIFailure(
                        Problems.invalid(
                            "kinds: '\(kind.prefix(32))' cannot be reclaimed; reclaim takes shm and sysv (semaphores, memfd and unlinked objects never)"
                        ))
                }
                order.kinds.insert(known)
            }
        }
        if let mounts = try body.strings("mounts") {
            let snapshot = host.snapshot()
            var devices: Set<DeviceID> = []
            for text in mounts {
                if let device = try mountDevice(text, snapshot) { devices.insert(device) }
            }
            order.mounts = devices
        }
        order.exclude = try body.strings("exclude") ?? []
        if let mode = try body.string("mode") {
            guard let known = ReclaimRequest.Mode(rawValue: mode) else {
                throw APIFailure(Problems.invalid("mode must be quarantine or delete, not '\(mode.prefix(32))'"))
            }
            order.mode = known
        }
        return order
    }

    func listQuarantine(_ request: HTTPRequest) throws -> HTTPResponse {
        let items = quarantine.list()
        return .json(QuarantineListJSON(items: items), capacity: 64 + items.count * 256)
    }

    /// 200 with the object as it is back under its name: the server's own mount as
    /// `GET /api/v1/sections/{name}`, another mount as `GET /api/v1/mounts/{mount}/sections/{name}`.
    func restoreQuarantined(_ request: HTTPRequest) throws -> HTTPResponse {
        let id = request.parameter("id") ?? ""
        let item = try quarantined { () throws(QuarantineError) in try quarantine.restore(id) }
        let snapshot = host.freshSnapshot()
        if let mount = snapshot.mount(item.mount), mount.isServer, let name = try? SectionName(item.name),
            let detail = try? registry.detail(named: name)
        {
            return SectionDetailJSON(detail, mount: ownMount, procDirectory: host.configuration.procDirectory)
                .response()
        }
        guard let mount = snapshot.mount(item.mount), let entry = mount.entries.first(where: { $0.name == item.name })
        else {
            throw APIFailure(
                Problems.make(
                    404, "not-found", "Not found", "'\(item.name.prefix(256))' was restored and is gone again"))
        }
        let object = HostObjects.file(mount, entry, snapshot)
        let seen = object.objectID.flatMap { snapshot.objects[$0] }
        return HostObjectDetailJSON(
            object, mappers: seen?.mappers ?? [], holders: seen?.holders ?? [],
            locks: object.objectID.flatMap { snapshot.locks[$0] } ?? [], snapshot,
            procDirectory: host.configuration.procDirectory
        ).response()
    }

    func purgeQuarantined(_ request: HTTPRequest) throws -> HTTPResponse {
        let id = request.parameter("id") ?? ""
        _ = try quarantined { () throws(QuarantineError) in try quarantine.purge(id) }
        return .empty()
    }

    /// `work`'s item, its failures as problems.
    private func quarantined(_ work: () throws(QuarantineError) -> QuarantineItem) throws(APIFailure)
        -> QuarantineItem
    {
        try Self.quarantined(work)
    }

    /// `work`'s item, its failures as the problems the quarantine's routes answer.
    static func quarantined(_ work: () throws(QuarantineError) -> QuarantineItem) throws(APIFailure)
        -> QuarantineItem
    {
        do {
            return try work()
        } catch {
            switch error {
            case .notFound(let id):
                throw APIFailure(
                    Problems.make(404, "not-found", "Not found", "nothing in quarantine has the id '\(id.prefix(64))'"))
            case .gone(let name):
                throw APIFailure(
                    Problems.make(
                        404, "not-found", "Not found",
                        "'\(name.prefix(256))' is no longer in quarantine (its mount or the object is gone); its record was dropped"
                    ))
            case .nameTaken(let name):
                throw APIFailure(
                    Problems.make(
                        409, "name-taken", "The name is taken",
                        "another object is named '\(name.prefix(256))' now; it stays in quarantine (rename or remove that one first, or purge this one)",
                        [("name", .string(name))]))
            case .failed(let detail):
                throw APIFailure(Problems.make(500, "internal", "Internal error", detail))
            }
        }
    }
}

/// `{"dryRun","candidates","reclaimed","skipped","reclaimedBytes"}`.
struct ReclaimReportJSON: JSONRepresentable {
    var report: ReclaimReport

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("dryRun")
        json.bool(report.dryRun)
        json.key("candidates")
        json.array(report.candidates.lazy.map { CandidateJSON(candidate: $0, reclaimed: false) })
        json.key("reclaimed")
        json.array(report.reclaimed.lazy.map { CandidateJSON(candidate: $0, reclaimed: true) })
        json.key("skipped")
        json.array(report.skipped.lazy.map(SkipJSON.init))
        json.key("reclaimedBytes")
        json.int(report.reclaimedBytes)
        json.endObject()
    }
}

/// A candidate: href, kind, mount, name, bytes, idleSeconds, evidence; a reclaimed one adds its
/// `quarantine` id (null when purged at once).
struct CandidateJSON: JSONRepresentable {
    var candidate: ReclaimCandidate
    var reclaimed: Bool

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("href")
        json.string(candidate.href)
        json.key("kind")
        json.string(candidate.kind.rawValue)
        json.key("mount")
        json.string(candidate.mount?.description)
        json.key("name")
        json.string(candidate.name)
        json.key("bytes")
        json.int(candidate.bytes)
        json.key("idleSeconds")
        json.int(Int64(candidate.idleSeconds.rounded(.down)))
        json.key("evidence")
        json.beginObject()
        json.key("holders")
        json.int(Int64(candidate.holders))
        json.key("mappers")
        json.int(Int64(candidate.mappers))
        json.key("lockHolders")
        json.int(Int64(candidate.lockHolders))
        json.key("nattch")
        if let nattch = candidate.nattch { json.int(nattch) } else { json.null() }
        json.endObject()
        if reclaimed {
            json.key("quarantine")
            json.string(candidate.quarantineID)
        }
        json.endObject()
    }
}

/// `{"href","reason","detail","quarantine"}`.
struct SkipJSON: JSONRepresentable {
    var skip: ReclaimSkip

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("href")
        json.string(skip.href)
        json.key("reason")
        json.string(skip.reason.rawValue)
        json.key("detail")
        json.string(skip.detail)
        json.key("quarantine")
        json.string(skip.quarantineID)
        json.endObject()
    }
}

/// `{"items":[{"id","name","mount","kind","bytes","quarantinedAt","purgeAt"}]}`.
struct QuarantineListJSON: JSONRepresentable {
    var items: [QuarantineItem]

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("items")
        json.beginArray()
        for item in items {
            json.beginObject()
            json.key("id")
            json.string(item.id)
            json.key("name")
            json.string(item.name)
            json.key("mount")
            json.string(item.mount.description)
            json.key("kind")
            json.string(item.kind)
            json.key("bytes")
            json.int(item.bytes)
            json.key("quarantinedAt")
            json.timestamp(item.quarantinedAt)
            json.key("purgeAt")
            json.timestamp(item.purgeAt)
            json.endObject()
        }
        json.endArray()
        json.endObject()
    }
}

/// The reclaim and quarantine series of /metrics (API-HOST.md "Metrics (additions)").
enum ReclaimMetrics {
    static func render(_ quarantine: Quarantine, mounts: [ShmMount]) -> String {
        let totals = quarantine.reclaimedTotals
        var out = "# HELP shm_admin_reclaimed_bytes_total Memory reclaim has quarantined or freed since the start.\n"
        out += "# TYPE shm_admin_reclaimed_bytes_total counter\n"
        out += "shm_admin_reclaimed_bytes_total \(totals.bytes)\n"
        out += "# HELP shm_admin_reclaimed_objects_total Objects reclaim has quarantined or freed since the start.\n"
        out += "# TYPE shm_admin_reclaimed_objects_total counter\n"
        out += "shm_admin_reclaimed_objects_total \(totals.objects)\n"
        out += "# HELP shm_admin_quarantine_bytes Memory of the objects in quarantine, by mount.\n"
        out += "# TYPE shm_admin_quarantine_bytes gauge\n"
        var bytes = quarantine.bytesByMount()
        // Every mount has the series (0 when its quarantine is empty), so alerts always have it.
        for mount in mounts where bytes[mount.device] == nil { bytes[mount.device] = 0 }
        for (device, value) in bytes.sorted(by: { $0.key < $1.key }) {
            out += "shm_admin_quarantine_bytes{mount=\"\(device)\"} \(value)\n"
        }
        return out
    }
}
