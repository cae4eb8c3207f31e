import CHttpd
import Logging

#if canImport(Glibc)
    import Glibc
#endif

extension HTTPServer {
    /// A request line arrived (URI-log callback).
    func requestStarted() {
        inFlight.add(1, ordering: .sequentiallyConsistent)
    }

    /// The request ended, answered or not (completion callback): report it once.
    func requestCompleted(_ context: RequestContext, completedOK: Bool) {
        var bytes = context.bodyBytes
        if let subscriber = context.subscriber {
            subscriber.connectionClosed()
            bytes = context.method == "HEAD" ? 0 : subscriber.bytesSent
            state.withLock { _ = $0.streams.removeValue(forKey: ObjectIdentifier(subscriber)) }
        }
        inFlight.subtract(1, ordering: .sequentiallyConsistent)
        guard context.headersSeen else { return }  // the request never reached the handler's first call
        let seconds = (ContinuousClock.now - context.started) / .seconds(1)
        let report = CompletedRequest(
            method: context.method, route: context.route, path: context.path, status: context.status,
            bytesSent: bytes, durationSeconds: seconds, remoteAddress: context.remoteAddress,
            outcome: completedOK ? .completed : .aborted)
        if configuration.accessLog {
            // One preformatted message, no metadata dictionary: this runs for every request.
            var line = report.method
            line.reserveCapacity(128)
            line += " "
            line += report.route ?? "-"
            line += " \(report.status) bytes=\(report.bytesSent) duration_us=\(Int(seconds * 1_000_000))"
            line += " remote="
            line += report.remoteAddress
            if report.outcome == .aborted { line += " aborted" }
            logger.info("\(line)")
        }
        onCompleted?(report)
    }

    /// A message from libmicrohttpd itself.
    func daemonLogged(_ message: String) {
        let starting = state.withLock { state in
            if state.phase == .running && state.daemon == nil { state.startMessages.append(message) }
            return state.daemon == nil
        }
        logger.log(level: starting ? .error : .debug, "libmicrohttpd: \(message)")
    }

    /// Subscribes the connection to `broadcaster` and builds the streaming response.
    func makeEventStreamResponse(
        _ broadcaster: EventBroadcaster, connection: OpaquePointer, context: RequestContext
    ) -> OpaquePointer? {
        let handle = ConnectionHandle(pointer: connection, socket: chttpd_connection_socket(connection))
        Self.capSendBuffer(handle.socket)
        let subscriber = EventSubscriber(broadcaster: broadcaster, connection: handle)
        let retained = Unmanaged.passRetained(subscriber).toOpaque()
        guard
            let response = MHD_create_response_from_callback(
                chttpd_size_unknown(), 16 * 1024, eventStreamReaderCallback, retained, eventStreamFreeCallback)
        else {
            Unmanaged<EventSubscriber>.fromOpaque(retained).release()
            return nil
        }
        context.subscriber = subscriber
        broadcaster.subscribe(subscriber)
        let stopping = state.withLock { state in
            state.streams[ObjectIdentifier(subscriber)] = subscriber
            return state.phase != .running
        }
        if stopping { subscriber.finish() }
        return response
    }

    /// The kernel send buffer of an event stream: small, so that a client that stops reading fills its
    /// subscriber's queue and is dropped after about `queueCapacity` events. Left to autotuning, the
    /// buffer of a stalled loopback connection grows to tcp_wmem's maximum (4 MiB by default): some
    /// 20,000 events went unnoticed there, in kernel memory, for every stalled client.
    static let eventStreamSendBuffer: Int32 = 64 * 1024

    private static func capSendBuffer(_ socket: Int32) {
        guard socket >= 0 else { return }
        var size = eventStreamSendBuffer
        _ = setsockopt(socket, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }
}
