import ArgumentParser
import Dispatch
import Logging
import SectionRegistry
import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

struct ShmAdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shm-admin",
        abstract: "Admin and inspection service for the shared memory of a Linux host (/dev/shm).",
        version: "0.1.0",
        subcommands: [
            Serve.self, Ls.self, Show.self, Create.self, Grow.self, Reset.self, Write.self, Dump.self, Pages.self,
            Rm.self, Adopt.self, Lock.self, Watch.self, Mounts.self, Doctor.self, Reclaim.self,
            QuarantineCommand.self,
        ])
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API and the dashboard.",
        discussion: """
            Prints the address it listens on and a dashboard URL carrying the admin token. \
            SIGINT or SIGTERM stop it gracefully (requests in flight finish; exit 0). \
            Under systemd it takes the socket of socket activation (LISTEN_FDS) instead of binding one, \
            and reports READY=1 and STOPPING=1 (sd_notify) when the unit is Type=notify. \
            The dashboard and openapi.json are built into the binary.
            """)

    @Option(help: "Address to listen on. Anything but loopback also needs --allow-remote and --read-token-file.")
    var bind = "127.0.0.1"

    @Option(help: "TCP port; 0 picks a free port (printed at start).")
    var port: UInt16 = 8080

    @Option(
        help:
            "Where managed sections' records and the generated admin token live (default: $XDG_STATE_HOME/shm-admin, else ~/.local/state/shm-admin)."
    )
    var stateDir: String?

    @Option(help: "File holding the admin token (default: STATE_DIR/admin-token, generated at first start, mode 0600).")
    var tokenFile: String?

    @Option(help: "File holding a read token: metadata endpoints then need it (or the admin token).")
    var readTokenFile: String?

    @Option(help: "Serve the dashboard's files from this directory instead of the copy built into the binary.")
    var staticDir: String?

    @Option(help: "PEM certificate for HTTPS (with --tls-key).")
    var tlsCert: String?

    @Option(help: "PEM private key for HTTPS (with --tls-cert).")
    var tlsKey: String?

    @Option(help: "Listen on a Unix socket at this path (mode 0600) instead of TCP.")
    var unix: String?

    @Flag(help: "Allow a non-loopback --bind (a read token is required then).")
    var allowRemote = false

    @Option(help: "Largest request body accepted, in bytes or with a unit (e.g. 64MiB); larger ones get 413.")
    var maxBody = "64MiB"

    @Option(
        help: "Most sections given per-section metric series; the rest are counted in shm_admin_section_series_dropped."
    )
    var metricsSectionCap = 1000

    @Option(
        help: """
            Worker threads, each serving many connections (default: one per CPU the server may run on). \
            Lock waits and commits of 64 MiB or more run off them.
            """)
    var threads: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Option(help: "The shared-memory directory (a tmpfs); tests point it at a small one of their own.")
    var shmDir = "/dev/shm"

    @Option(
        help: "The host's /proc: the whole-host views read it (a host's /proc mounted elsewhere, or a test's tree).")
    var procDir = "/proc"

    @Option(
        help: """
            The host's root: sys/fs/cgroup for containers' memory limits, etc/systemd/logind.conf (and its \
            drop-ins) and etc/login.defs for the doctor.
            """)
    var rootDir = "/"

    @Option(
        help: """
            How long an object must be idle (no change of mtime or ctime) to count as an orphan, for the \
            doctor's orphans check: 90s, 10m, 24h or whole seconds.
            """)
    var grace = "10m"

    @Option(
        help: """
            How long objects reclaimed into quarantine stay there (restorable) before they are purged: \
            90s, 10m, 24h or whole seconds.
            """)
    var quarantineTtl = "24h"

    @Option(
        help: """
            When to fsync the state directory's records: auto (only when the shared-memory directory \
            keeps its objects over a power loss, which tmpfs does not) or always.
            """)
    var syncRecords = "auto"

    func run() throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard let recordSync = RecordSync(rawValue: syncRecords) else {
            throw ValidationError("--sync-records must be auto or always")
        }
        guard let graceSeconds = DurationText.seconds(grace) else {
            throw ValidationError("--grace must be a duration such as 90s, 10m or 24h")
        }
        guard let quarantineSeconds = DurationText.seconds(quarantineTtl) else {
            throw ValidationError("--quarantine-ttl must be a duration such as 90s, 10m or 24h")
        }
        let maxBodyBytes: Int64
        do { maxBodyBytes = try SizeText.parse(maxBody, field: "--max-body") } catch {
            throw ValidationError("\(error)")
        }
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, sink: LogSink.standardError)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "shm-admin")
        var options = ServeOptions(
            stateDirectory: stateDir ?? ServeOptions.defaultStateDirectory(), staticDirectory: staticDir)
        options.bind = bind
        options.port = port
        options.tokenFile = tokenFile
        options.readTokenFile = readTokenFile
        options.tlsCertificate = tlsCert
        options.tlsKey = tlsKey
        options.unixSocket = unix
        do {
            options.listenDescriptor = try Systemd.takeListeningSocket()
        } catch {
            logger.critical("shm-admin could not start: \(error)")
            throw ExitCode(1)
        }
        if let descriptor = options.listenDescriptor {
            logger.notice(
                "listening on the socket systemd passed (fd \(descriptor.rawValue)); --bind, --port and --unix are not used"
            )
        }
        options.allowRemote = allowRemote
        options.maxBody = maxBodyBytes
        options.metricsSectionCap = metricsSectionCap
        if let threads {
            guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1 to 256") }
            options.threads = threads
        }
        options.shmDirectory = shmDir
        options.procDirectory = procDir
        options.rootDirectory = rootDir
        options.graceSeconds = graceSeconds
        options.quarantineTTL = quarantineSeconds
        options.recordSync = recordSync
        if level <= .info { options.accessLog = LogSink.standardError }

        let app: ShmAdminApp
        do {
            app = try ShmAdminApp(options: options, logger: logger)
            try app.start()
        } catch {
            logger.critical("shm-admin could not start: \(error)")
            throw ExitCode(1)
        }
        LogSink.standardError.flush()  // the start's lines before the banner that says it listens
        for line in app.bannerLines { writeLine(line) }
        // Type=notify: systemd counts the service as started only now, with the socket listening.
        Systemd.notify("READY=1\nSTATUS=\(app.bannerLines.first ?? "listening")")
        Shutdown.wait(stopping: app, logger: logger)
    }
}

/// Writes a line to standard output at once (a pipe would otherwise hold it back).
func writeLine(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    var done = 0
    while done < bytes.count {
        let count = bytes.withUnsafeBytes { write(1, $0.baseAddress! + done, $0.count - done) }
        if count <= 0 { return }
        done += count
    }
}

/// SIGINT and SIGTERM for `serve`: blocked in every thread from the first line of the program
/// (threads inherit the mask), so one that arrives during start-up stays pending instead of
/// killing the process; the main thread then collects it with `sigwait`.
enum Shutdown {
    static func blockTerminationSignals() {
        var set = terminationSignals()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    private static func terminationSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }

    /// Waits for SIGINT or SIGTERM, stops `app` gracefully (requests in flight finish) and exits 0.
    static func wait(stopping app: ShmAdminApp, logger: Logger) -> Never {
        var set = terminationSignals()
        var number: Int32 = 0
        while sigwait(&set, &number) != 0 {}
        logger.notice("signal \(number): stopping")
        Systemd.notify("STOPPING=1")
        app.stop()
        LogSink.standardError.flush()
        exit(0)
    }
}

if CommandLine.arguments.dropFirst().first == "serve" {
    Shutdown.blockTerminationSignals()
    MemoryTuning.applyServerDefaults()
}
ShmAdminCommand.mainWithUsageStatus()
