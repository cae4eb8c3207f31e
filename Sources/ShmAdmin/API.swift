import Doctor
import HTTPServer
import HostScan
import Logging
import Reclaim
import SectionRegistry

/// Everything a handler needs: the registry, the exposure rules, metrics, the event stream.
final class API: Sendable {
    let registry: SectionRegistry
    /// The whole host (API-HOST.md): one shared scan of /proc.
    let host: HostScanner
    /// The doctor's checks, history and periodic run (API-HOST.md "Doctor findings", "History").
    let doctor: DoctorService
    /// Reclaim and its quarantine (API-HOST.md "Reclaim").
    let quarantine: Quarantine
    let reclaimer: Reclaimer
    let security: Security
    let metrics: Metrics
    let events: EventBroadcaster
    let listings: ListingCache
    /// The dashboard's files on disk (`--static-dir`); nil: the copy built into the binary.
    let staticDirectory: String?
    /// openapi.json on disk; nil: the copy built into the binary.
    let openAPIPath: String?
    let version: String
    let startedAt = monotonicSeconds()
    /// The CPU time of a pass over /proc past which /metrics takes the doctor's last run (`metricsSnapshot`).
    let expensivePass: Double
    let logger: Logger

    init(
        registry: SectionRegistry, security: Security, metrics: Metrics, events: EventBroadcaster,
        staticDirectory: String?, openAPIPath: String?, version: String, logger: Logger, host: HostScanner? = nil,
        doctor: DoctorConfiguration = DoctorConfiguration(), quarantineTTL: Double = 86_400,
        expensivePass: Double = API.expensivePass
    ) {
        self.registry = registry
        self.expensivePass = expensivePass
        self.host = host ?? HostScanner(HostScanConfiguration(shmDirectory: registry.directory.path))
        self.doctor = DoctorService(
            host: self.host, registry: registry, configuration: doctor, expensivePass: expensivePass)
        let feed = registry.changes
        let own = DeviceID(registry.directory.device)
        self.quarantine = Quarantine(
            stateDirectory: registry.stateDirectory, scanner: self.host, ttl: quarantineTTL,
            notify: { change in API.publish(change, to: feed, ownMount: own) })
        self.reclaimer = Reclaimer(quarantine: quarantine, graceSeconds: doctor.graceSeconds)
        self.security = security
        self.metrics = metrics
        self.events = events
        self.listings = ListingCache(registry: registry)
        self.staticDirectory = staticDirectory
        self.openAPIPath = openAPIPath
        self.version = version
        self.logger = logger
    }

    /// The server's own mount as the API names it (`MAJ:MIN`), in every section since version 1.1.
    var ownMount: String { DeviceID(registry.directory.device).description }

    /// The route table of API.md, each with its access level.
    func router() -> Router {
        var router = Router()
        let security = self.security
        router.use { request, next in
            // The Host check covers unknown routes too: a 404 must not tell a rebinding page what exists.
            if let problem = security.check(request, level: .public) { return .problem(problem) }
            return next(request)
        }
        func add<Answer: ResponseRepresentable>(
            _ method: String, _ pattern: String, _ level: AccessLevel,
            _ handler: @escaping @Sendable (HTTPRequest) throws -> Answer
        ) {
            router.add(method, pattern) { [self] request in
                respond(request, level: level) { try handler($0).response() }
            }
        }
        add("GET", "/", .public) { [self] _ in try staticFile("index.html") }
        add("GET", "/static/{path...}", .public) { [self] in try staticFile($0.parameter("path") ?? "") }
        add("GET", "/healthz", .public) { _ in HTTPResponse.json(["status": "ok"]) }
        add("GET", "/metrics", .read) { [self] _ in metricsText() }
        add("GET", "/openapi.json", .read) { [self] _ in try openAPI() }
        add("GET", "/api/v1/system", .read) { [self] _ in system() }
        add("GET", "/api/v1/events", .read) { [self] _ in HTTPResponse.eventStream(events) }
        add("GET", "/api/v1/sections", .read) { [self] in try listSections($0) }
        add("POST", "/api/v1/sections", .admin) { [self] in try createSection($0) }
        add("GET", "/api/v1/sections/{name}", .read) { [self] in try sectionDetail($0) }
        add("DELETE", "/api/v1/sections/{name}", .admin) { [self] in try deleteSection($0) }
        add("POST", "/api/v1/sections/{name}/adopt", .admin) { [self] in try adoptSection($0) }
        add("POST", "/api/v1/sections/{name}/grow", .admin) { [self] in try growSection($0) }
        add("POST", "/api/v1/sections/{name}/reset", .admin) { [self] in try resetSection($0) }
        add("GET", "/api/v1/sections/{name}/pages", .read) { [self] in try pages($0) }
        add("GET", "/api/v1/sections/{name}/data", .admin) { [self] in try readData($0, view: nil) }
        add("PUT", "/api/v1/sections/{name}/data", .admin) { [self] in try writeData($0, view: nil) }
        add("POST", "/api/v1/sections/{name}/views", .admin) { [self] in try mapView($0) }
        add("GET", "/api/v1/sections/{name}/views", .read) { [self] in try listViews($0) }
        add("DELETE", "/api/v1/sections/{name}/views/{id}", .admin) { [self] in try unmapView($0) }
        add("POST", "/api/v1/sections/{name}/views/{id}/move", .admin) { [self] in try moveView($0) }
        add("GET", "/api/v1/sections/{name}/views/{id}/data", .admin) { [self] in
            try readData($0, view: $0.parameter("id"))
        }
        add("PUT", "/api/v1/sections/{name}/views/{id}/data", .admin) { [self] in
            try writeData($0, view: $0.parameter("id"))
        }
        add("POST", "/api/v1/sections/{name}/lock", .admin) { [self] in try lock($0) }
        add("DELETE", "/api/v1/sections/{name}/lock/{lease}", .admin) { [self] in try unlock($0) }
        // The whole host (API-HOST.md).
        add("GET", "/api/v1/mounts", .read) { [self] in try listMounts($0) }
        add("GET", "/api/v1/mounts/{mount}", .read) { [self] in try mountDetail($0) }
        add("GET", "/api/v1/mounts/{mount}/sections", .read) { [self] in try listMountSections($0) }
        add("GET", "/api/v1/mounts/{mount}/sections/{name}", .read) { [self] in try mountSectionDetail($0) }
        add("DELETE", "/api/v1/mounts/{mount}/sections/{name}", .admin) { [self] in try deleteMountSection($0) }
        add("GET", "/api/v1/mounts/{mount}/sections/{name}/pages", .read) { [self] in try mountSectionPages($0) }
        add("GET", "/api/v1/mounts/{mount}/sections/{name}/data", .admin) { [self] in try mountSectionData($0) }
        add("GET", "/api/v1/inventory", .read) { [self] in try inventory($0) }
        add("GET", "/api/v1/sysv/{ipc}/{shmid}", .read) { [self] in try sysvDetail($0) }
        add("DELETE", "/api/v1/sysv/{ipc}/{shmid}", .admin) { [self] in try deleteSysV($0) }
        add("GET", "/api/v1/sysv/{ipc}/{shmid}/data", .admin) { [self] in try sysvData($0) }
        add("GET", "/api/v1/unlinked/{object}", .read) { [self] in try unlinkedDetail($0) }
        add("GET", "/api/v1/unlinked/{object}/data", .admin) { [self] in try unlinkedData($0) }
        add("GET", "/api/v1/doctor", .read) { [self] in try doctorReport($0) }
        add("GET", "/api/v1/history", .read) { [self] in try historyReport($0) }
        add("POST", "/api/v1/reclaim", .admin) { [self] in try reclaim($0) }
        add("GET", "/api/v1/quarantine", .read) { [self] in try listQuarantine($0) }
        add("POST", "/api/v1/quarantine/{id}/restore", .admin) { [self] in try restoreQuarantined($0) }
        add("DELETE", "/api/v1/quarantine/{id}", .admin) { [self] in try purgeQuarantined($0) }
        return router
    }

    /// A quarantine change as its event (`quarantined`, `restored`, `purged`).
    /// The directory's inotify echo of a rename in the server's own mount is the server's own change:
    /// `quarantined` / `restored` say it, not `deleted` / `created` again.
    static func publish(_ change: QuarantineChange, to feed: ChangeFeed, ownMount: DeviceID) {
        switch change {
        case .renaming(let mount, let name):
            if mount == ownMount { feed.noteOwnChange(name) }
        case .quarantined(let item):
            feed.publishQuarantine(
                .quarantined, item.name, objectKind: item.kind, mount: item.mount.description, bytes: item.bytes,
                id: item.id)
        case .restored(let item):
            feed.publishQuarantine(
                .restored, item.name, objectKind: item.kind, mount: item.mount.description, bytes: item.bytes,
                id: item.id)
        case .purged(let kind, let name, let mount, let bytes, let id):
            feed.publishQuarantine(.purged, name, objectKind: kind, mount: mount?.description, bytes: bytes, id: id)
        }
    }

    /// Checks the level, runs the handler and turns every failure into a problem; nothing escapes.
    private func respond(_ request: HTTPRequest, level: AccessLevel, _ handler: (HTTPRequest) throws -> HTTPResponse)
        -> HTTPResponse
    {
        // The Host was checked by the router's middleware (`router()`), which every request passes first.
        if let problem = security.check(request, level: level, hostChecked: true) {
            let response = HTTPResponse.problem(problem)
            return problem.status == 401 ? response.adding("WWW-Authenticate", "Bearer realm=\"shm-admin\"") : response
        }
        return answer(request, handler)
    }

    /// `work`'s answer, made off the server's workers (`HTTPResponse.deferred`: lock waits, large
    /// commits), its errors mapped as any route's are.
    func offTheWorkers(_ request: HTTPRequest, _ work: @escaping @Sendable () throws -> HTTPResponse) -> HTTPResponse {
        .deferred { [self] in answer(request) { _ in try work() } }
    }

    /// `handler`'s response, or the problem its error maps to.
    private func answer(_ request: HTTPRequest, _ handler: (HTTPRequest) throws -> HTTPResponse) -> HTTPResponse {
        do {
            return try handler(request)
        } catch let failure as APIFailure {
            return .problem(failure.problem)
        } catch let error as SectionError {
            let problem = Problems.from(error)
            if problem.status >= 500 {
                logger.error("\(request.method) \(request.path) failed: \(error.description)")
            }
            return .problem(problem)
        } catch {
            logger.error("\(request.method) \(request.path) failed: \(error)")
            return .problem(.internalError("the request failed inside the server; see its log"))
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
