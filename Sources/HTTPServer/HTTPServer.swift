import CHttpd
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 server over libmicrohttpd: a pool of poll worker threads calls `handler` synchronously
/// with each complete request and sends the response it returns.
///
/// ```swift
/// var router = Router()
/// router.get("/healthz") { _ in .json(["status": "ok"]) }
/// let server = HTTPServer(configuration: .loopback(), handler: router.handler)
/// try server.start()
/// print(server.port)
/// server.stop()
/// ```
///
/// A started server keeps itself alive until `stop()`. The server answers on its own only with a 413
/// problem (body over `maxBodyBytes`) and a 500 problem when a response cannot be built.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    let logger: Logger
    let handler: HTTPHandler
    let onCompleted: (@Sendable (CompletedRequest) -> Void)?

    enum Phase { case idle, running, stopping, stopped }

    struct State: ~Copyable {
        var phase = Phase.idle
        var daemon: DaemonHandle?
        var port: UInt16 = 0
        /// Where the server listens, once started.
        var address: HTTPServerConfiguration.Endpoint?
        var streams: [ObjectIdentifier: EventSubscriber] = [:]
        /// Connections suspended while their `.deferred` response is made.
        var deferred: [ObjectIdentifier: DeferredRequest] = [:]
        /// `strdup`ed PEM strings libmicrohttpd reads; freed after the daemon stops.
        var tlsStrings = CStrings()
        /// The library's messages while starting, for the start error.
        var startMessages: [String] = []
    }

    let state = Mutex(State())
    /// Requests between their request line and their completion (an atomic: two updates per request).
    let inFlight = Atomic<Int>(0)

    /// C strings owned by the server (`strdup`ed), freed with `free`.
    struct CStrings: @unchecked Sendable {
        var pointers: [UnsafeMutablePointer<CChar>] = []

        func freeAll() { pointers.forEach { free($0) } }
    }

    /// The daemon pointer, which libmicrohttpd lets any thread use for quiesce/stop.
    struct DaemonHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// - Parameters:
    ///   - onCompleted: called once per finished request (answered or aborted), on a worker thread;
    ///     keep it short (record metrics).
    ///   - handler: called for every complete request, on a worker thread.
    public init(
        configuration: HTTPServerConfiguration,
        logger: Logger = Logger(label: "http"),
        onCompleted: (@Sendable (CompletedRequest) -> Void)? = nil,
        handler: @escaping HTTPHandler
    ) {
        self.configuration = configuration
        self.logger = logger
        self.onCompleted = onCompleted
        self.handler = handler
    }

    /// The TCP port listened on (the real one when the configuration asked for 0); 0 before `start()`
    /// and for a Unix socket.
    public var port: UInt16 {
        state.withLock { $0.port }
    }

    /// Where the server listens once started: `.tcp` with the real port, or `.unix`; for an
    /// `.inherited` socket, what `getsockname` says of it. Nil before `start()`.
    public var listeningAddress: HTTPServerConfiguration.Endpoint? {
        state.withLock { $0.address }
    }

    /// Requests between the arrival of their request line and their completion.
    public var requestsInFlight: Int {
        inFlight.load(ordering: .sequentiallyConsistent)
    }

    /// Whether `start()` succeeded and `stop()` has not begun.
    public var isRunning: Bool {
        state.withLock { $0.phase == .running }
    }

    /// Binds the endpoint and starts the worker threads.
    ///
    /// Throws `HTTPServerError`: `.bind` with the errno of the failed call (e.g. address in use),
    /// `.tlsUnsupported`, `.invalidConfiguration`, `.daemonStart` with libmicrohttpd's message,
    /// `.wrongState` when called twice.
    public func start() throws(HTTPServerError) {
        let config = configuration
        guard config.threadPoolSize >= 1, config.connectionLimit >= 1, config.perIPConnectionLimit >= 0,
            config.connectionTimeoutSeconds >= 0, config.maxBodyBytes >= 0
        else { throw HTTPServerError(.invalidConfiguration, "limits must be positive") }
        if config.tls != nil, MHD_is_feature_supported(.FEATURE_TLS) != .YES {
            throw HTTPServerError(.tlsUnsupported, "TLS was requested but this libmicrohttpd has no TLS support")
        }
        try state.withLock { (state: inout State) throws(HTTPServerError) in
            guard state.phase == .idle else { throw HTTPServerError(.wrongState, "the server was already started") }
            state.phase = .running
        }
        let socket: (fd: Int32, port: UInt16, address: HTTPServerConfiguration.Endpoint)
        do {
            socket = try ListeningSocket.open(config.endpoint)
        } catch {
            state.withLock { $0.phase = .idle }
            throw error
        }
        let tlsStrings = CStrings(
            pointers: config.tls.map { [strdup($0.privateKeyPEM)!, strdup($0.certificatePEM)!] } ?? [])
        var options = daemonOptions(listenSocket: socket.fd, tlsStrings: tlsStrings)
        // poll, not epoll: libmicrohttpd's epoll mode is edge-triggered, and a send cut short by a
        // fault in a mapped body (the file truncated under it) then waited for a writability edge
        // that never came. Level-triggered, the next send fails and the connection closes.
        var flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_POLL.rawValue
        flags |= MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_ERROR_LOG.rawValue
        if config.tls != nil { flags |= MHD_USE_TLS.rawValue }
        if case .tcp(let host, _) = socket.address, host.contains(":") { flags |= MHD_USE_IPv6.rawValue }

        let me = Unmanaged.passRetained(self).toOpaque()
        let daemon = chttpd_start_daemon_full(
            flags, accessHandlerCallback, me, completedCallback, me, uriLogCallback, me, daemonLogCallback, me,
            &options)
        guard let daemon else {
            Unmanaged<HTTPServer>.fromOpaque(me).release()
            close(socket.fd)
            if case .unix(let path) = config.endpoint { unlink(path) }
            tlsStrings.freeAll()
            let messages = state.withLock { state in
                state.phase = .idle
                defer { state.startMessages = [] }
                return state.startMessages
            }
            let reason = messages.isEmpty ? "" : ": " + messages.joined(separator: "; ")
            throw HTTPServerError(.daemonStart, "libmicrohttpd could not start on \(config.endpoint)\(reason)")
        }
        state.withLock { state in
            state.daemon = DaemonHandle(pointer: daemon)
            state.port = socket.port
            state.address = socket.address
            state.tlsStrings = tlsStrings
        }
        logger.info(
            "HTTP server listening",
            metadata: ["endpoint": "\(config.endpoint)", "port": "\(socket.port)", "tls": "\(config.tls != nil)"])
    }

    private func daemonOptions(listenSocket: Int32, tlsStrings: CStrings) -> [MHD_OptionItem] {
        let config = configuration
        var options: [MHD_OptionItem] = [
            MHD_OptionItem(option: .LISTEN_SOCKET, value: Int(listenSocket), ptr_value: nil),
            MHD_OptionItem(option: .THREAD_POOL_SIZE, value: config.threadPoolSize, ptr_value: nil),
            MHD_OptionItem(option: .CONNECTION_LIMIT, value: config.connectionLimit, ptr_value: nil),
            MHD_OptionItem(option: .PER_IP_CONNECTION_LIMIT, value: config.perIPConnectionLimit, ptr_value: nil),
            MHD_OptionItem(option: .CONNECTION_TIMEOUT, value: config.connectionTimeoutSeconds, ptr_value: nil),
        ]
        if tlsStrings.pointers.count == 2 {
            let key = UnsafeMutableRawPointer(tlsStrings.pointers[0])
            let certificate = UnsafeMutableRawPointer(tlsStrings.pointers[1])
            options.append(MHD_OptionItem(option: .HTTPS_MEM_KEY, value: 0, ptr_value: key))
            options.append(MHD_OptionItem(option: .HTTPS_MEM_CERT, value: 0, ptr_value: certificate))
        }
        options.append(MHD_OptionItem(option: .END, value: 0, ptr_value: nil))
        return options
    }

    /// Stops gracefully: stops accepting, ends event streams, waits up to
    /// `configuration.shutdownGracePeriod` for requests in flight, then closes every connection.
    /// Idempotent; safe to call from any thread except a handler.
    public func stop() {
        let taken = state.withLock { state -> (DaemonHandle, [EventSubscriber])? in
            guard state.phase == .running, let daemon = state.daemon else {
                if state.phase == .idle { state.phase = .stopped }
                return nil
            }
            state.phase = .stopping
            return (daemon, Array(state.streams.values))
        }
        guard let (handle, streams) = taken else { return }
        let daemon = handle.pointer
        // Quiescing hands the listening socket back to us (MHD_stop_daemon then leaves it alone):
        // closing it refuses new connections at once. If it fails, MHD_stop_daemon closes the socket.
        let quiesced = MHD_quiesce_daemon(daemon)
        if quiesced >= 0 { close(quiesced) }
        if case .unix(let path) = configuration.endpoint { unlink(path) }
        for stream in streams { stream.finish() }
        waitForRequestsInFlight()
        // Streams that started meanwhile, and deferred answers not ready, must not stay suspended:
        // MHD_stop_daemon requires that.
        for stream in state.withLock({ Array($0.streams.values) }) { stream.finish() }
        abandonDeferred()
        MHD_stop_daemon(daemon)
        let tlsStrings = state.withLock { state in
            defer {
                state.tlsStrings = CStrings()
                state.daemon = nil
                state.phase = .stopped
            }
            return state.tlsStrings
        }
        tlsStrings.freeAll()
        Unmanaged.passUnretained(self).release()
        logger.info("HTTP server stopped", metadata: ["endpoint": "\(configuration.endpoint)"])
    }

    private func waitForRequestsInFlight() {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.shutdownGracePeriod
        let dropStreamsAt = clock.now + .seconds(1)
        while clock.now < deadline {
            let busy = inFlight.load(ordering: .sequentiallyConsistent)
            let streams = state.withLock { Array($0.streams.values) }
            if busy == 0 { return }
            // A stream whose client stopped reading cannot finish cleanly: after a second, cut it off.
            for stream in streams {
                if clock.now < dropStreamsAt { stream.finish() } else { stream.drop() }
            }
            usleep(10_000)
        }
        logger.warning(
            "stopping with requests still in flight",
            metadata: ["requests": "\(inFlight.load(ordering: .sequentiallyConsistent))"])
    }
}
