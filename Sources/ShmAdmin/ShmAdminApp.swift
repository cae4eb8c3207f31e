import CShmLinux
import Dispatch
import Doctor
import HTTPServer
import HostScan
import Logging
import SectionRegistry
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The options of `shm-admin serve`, already parsed.
public struct ServeOptions: Sendable {
    public var bind = "127.0.0.1"
    public var port: UInt16 = 8080
    public var stateDirectory: String
    public var tokenFile: String?
    public var readTokenFile: String?
    /// The dashboard's files on disk (`--static-dir`); nil serves the copy built into the binary.
    public var staticDirectory: String?
    /// openapi.json on disk; nil serves the copy built into the binary.
    public var openAPIPath: String?
    public var tlsCertificate: String?
    public var tlsKey: String?
    public var unixSocket: String?
    /// A listening socket handed over by systemd (`LISTEN_FDS`); it replaces bind, port and unixSocket.
    public var listenDescriptor: FileDescriptor?
    public var allowRemote = false
    public var maxBody: Int64 = 64 << 20
    public var metricsSectionCap = 1000
    /// libmicrohttpd's worker threads: one per CPU the server may run on, like nginx's
    /// `worker_processes auto`. More busy workers than CPUs take turns a scheduler tick at a time,
    /// and a request caught at a turn waits a tick (bench/ANALYSIS.md, "Workers on one CPU").
    public var threads = Int(cshm_usable_cpus())
    public var shmDirectory = "/dev/shm"
    /// The host's /proc and root (API-HOST.md "Server options"): where the host scan looks.
    public var procDirectory = "/proc"
    public var rootDirectory = "/"
    /// `--grace`: how long an object must be idle to count as an orphan (reclaim, the `orphans` check).
    public var graceSeconds = 600.0
    /// `--quarantine-ttl`: how long reclaimed objects stay in quarantine before they are purged.
    public var quarantineTTL = 86_400.0
    public var recordSync = RecordSync.auto
    /// Where the access log's lines go, written directly (`AccessLog`); nil: through the logger.
    public var accessLog: LogSink?
    public var version = "0.1.0"

    public init(stateDirectory: String, staticDirectory: String? = nil, openAPIPath: String? = nil) {
        self.stateDirectory = stateDirectory
        self.staticDirectory = staticDirectory
        self.openAPIPath = openAPIPath
    }

    /// `$XDG_STATE_HOME/shm-admin`, else `~/.local/state/shm-admin`.
    public static func defaultStateDirectory() -> String {
        if let xdg = getenv("XDG_STATE_HOME").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            return xdg + "/shm-admin"
        }
        let home = getenv("HOME").map { String(cString: $0) } ?? "/root"
        return home + "/.local/state/shm-admin"
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// shm-admin serving: the registry behind the HTTP API.
public final class ShmAdminApp: Sendable {
    public let registry: SectionRegistry
    let server: HTTPServer
    let api: API
    let options: ServeOptions
    let adminToken: String
    let bridge: UInt64
    let mountEvents: MountEvents
    /// Purges quarantined objects whose TTL is over (DispatchSourceTimer is thread-safe, not marked Sendable).
    nonisolated(unsafe) let purgeTimer: DispatchSourceTimer

    public init(options: ServeOptions, logger: Logger) throws {
        self.options = options
        let endpoint: HTTPServerConfiguration.Endpoint
        let remote: Bool
        if let descriptor = options.listenDescriptor {
            guard let address = HTTPServerConfiguration.Endpoint.listening(on: descriptor.rawValue) else {
                throw SetupError(
                    "the socket passed by systemd (fd \(descriptor.rawValue)) is not a listening stream socket")
            }
            endpoint = .inherited(descriptor: descriptor.rawValue)
            if case .tcp(let host, _) = address { remote = !ServeOptions.isLoopback(host) } else { remote = false }
            if remote && !options.allowRemote {
                throw SetupError(
                    "the socket passed by systemd listens on \(address), not a loopback address: pass --allow-remote to expose the server"
                )
            }
        } else {
            endpoint = options.unixSocket.map { .unix(path: $0) } ?? .tcp(host: options.bind, port: options.port)
            remote = !ServeOptions.isLoopback(options.bind) && options.unixSocket == nil
            if remote && !options.allowRemote {
                throw SetupError(
                    "--bind \(options.bind) is not a loopback address: pass --allow-remote to expose the server")
            }
        }
        if remote && options.readTokenFile == nil {
            throw SetupError(
                "a non-loopback bind needs --read-token-file: metadata is not served to the network without a token")
        }
        if (options.tlsCertificate == nil) != (options.tlsKey == nil) {
            throw SetupError("--tls-cert and --tls-key go together")
        }
        // One pass over /proc for the whole host feeds the registry's mappers, holders and locks too.
        let trimmedShm =
            options.shmDirectory.count > 1 && options.shmDirectory.hasSuffix("/")
            ? String(options.shmDirectory.dropLast()) : options.shmDirectory
        let host = HostScanner(
            HostScanConfiguration(
                procDirectory: options.procDirectory, rootDirectory: options.rootDirectory,
                shmDirectory: trimmedShm))
        registry = try SectionRegistry(
            configuration: .init(
                shmDirectory: options.shmDirectory, stateDirectory: options.stateDirectory,
                procRoot: options.procDirectory, recordSync: options.recordSync,
                processView: { device in HostProcessView(host: host, device: device) }))
        host.takeOwnMount(
            from: HostProcessView.ownMount(of: registry), underWay: HostProcessView.ownMountUnderWay(of: registry))
        if registry.syncsRecords {
            logger.info("records in \(options.stateDirectory) are fsynced before each change is acknowledged")
        } else {
            logger.info(
                "records in \(options.stateDirectory) are not fsynced: \(options.shmDirectory) is volatile (a power loss empties it); --sync-records always to fsync them anyway"
            )
        }
        for name in registry.startupReport.corrupt {
            logger.warning("set aside a corrupt record \(name) under \(options.stateDirectory)/corrupt/")
        }
        for note in registry.startupReport.repaired { logger.notice("repaired after a crash: \(note)") }
        let tokenPath = options.tokenFile ?? options.stateDirectory + "/admin-token"
        adminToken = try Security.loadOrCreateToken(at: tokenPath, create: options.tokenFile == nil)
        let readToken = try options.readTokenFile.map { try Security.loadOrCreateToken(at: $0, create: false) }
        let staticDirectory = options.staticDirectory.map(Self.resolved)
        // A bounded queue per client: bursts of a few thousand changes pass, a stalled client is dropped.
        let events = EventBroadcaster(queueCapacity: 4096)
        let metrics = Metrics(sectionCap: options.metricsSectionCap)
        api = API(
            registry: registry, security: Security(adminToken: adminToken, readToken: readToken, loopbackBind: !remote),
            metrics: metrics, events: events, staticDirectory: staticDirectory, openAPIPath: options.openAPIPath,
            version: options.version, logger: logger,
            host: host,
            doctor: DoctorConfiguration.read(rootDirectory: options.rootDirectory, graceSeconds: options.graceSeconds),
            quarantineTTL: options.quarantineTTL)
        // Before any request: finish or undo the reclaim steps a crash interrupted.
        let recovery = api.quarantine.recover()
        for name in recovery.restored {
            logger.notice("reclaim interrupted by a crash: '\(name)' is back under its name")
        }
        for name in recovery.kept {
            logger.notice(
                "reclaim interrupted by a crash: '\(name)' stays in quarantine (its name was taken meanwhile)")
        }
        for name in recovery.purged { logger.notice("purge interrupted by a crash, finished: '\(name)'") }
        for name in recovery.unreachable {
            logger.warning("quarantine record of '\(name)' kept: its mount cannot be reached now")
        }
        api.doctor.start()
        let quarantine = api.quarantine
        purgeTimer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "shm-admin.quarantine"))
        let interval = min(10, max(0.25, options.quarantineTTL / 4))
        purgeTimer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(100))
        purgeTimer.setEventHandler { quarantine.purgeExpired() }
        purgeTimer.resume()
        bridge = EventBridge.connect(registry, to: events)
        mountEvents = MountEvents(host: api.host, feed: registry.changes, broadcaster: events)

        var configuration = HTTPServerConfiguration(endpoint: endpoint)
        if let certificate = options.tlsCertificate, let key = options.tlsKey {
            guard let certificatePEM = readWholeFile(certificate), let keyPEM = readWholeFile(key) else {
                throw SetupError("cannot read --tls-cert \(certificate) or --tls-key \(key)")
            }
            configuration.tls = .init(
                certificatePEM: String(decoding: certificatePEM, as: UTF8.self),
                privateKeyPEM: String(decoding: keyPEM, as: UTF8.self))
        }
        configuration.maxBodyBytes = Int(clamping: options.maxBody)
        configuration.threadPoolSize = options.threads
        let accessLog = options.accessLog.map { AccessLog(sink: $0, label: logger.label) }
        configuration.accessLog = accessLog == nil
        server = HTTPServer(
            configuration: configuration, logger: logger,
            onCompleted: {
                metrics.record($0)
                accessLog?.write($0)
            },
            handler: api.router().handler)
    }

    public func start() throws { try server.start() }

    /// Stops accepting, lets requests in flight finish, ends event streams.
    public func stop() {
        api.events.finishAll()
        server.stop()
        mountEvents.stop()
        api.doctor.stop()
        purgeTimer.cancel()
        registry.changes.unsubscribe(bridge)
        registry.close()
    }

    public var port: UInt16 { server.port }

    /// What the server prints at start: where it listens and the dashboard URL with the admin token.
    public var bannerLines: [String] {
        let address = server.listeningAddress ?? .tcp(host: options.bind, port: port)
        let bind: String
        switch address {
        case .unix(let path):
            return ["shm-admin listening on unix:\(path)", "dashboard: (over the Unix socket) /#token=\(adminToken)"]
        case .tcp(let host, _): bind = host
        case .inherited: bind = options.bind
        }
        let scheme = options.tlsCertificate == nil ? "http" : "https"
        let host = bind.contains(":") ? "[\(bind)]" : bind
        let base = "\(scheme)://\(host):\(port)/"
        return ["shm-admin listening on \(base)", "dashboard: \(base)#token=\(adminToken)"]
    }

    /// The route table, to compare with openapi.json.
    public var routes: [Route] { api.router().routes }

    private static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }
}
