import CHttpd
import Dispatch
import Synchronization

extension HTTPResponse {
    /// A response that takes a while to make (waiting for a lock): `work` runs on a thread of its own
    /// while the connection is suspended, so the request does not hold one of the server's workers,
    /// each of which serves many connections. The server stopping waits for `work` as for any request
    /// in flight, up to its grace period; past it the connection is closed and `work`'s answer dropped.
    public static func deferred(_ work: @escaping @Sendable () -> HTTPResponse) -> HTTPResponse {
        var response = HTTPResponse(status: 200)
        response.deferredWork = DeferredWork(work)
        return response
    }
}

extension HTTPResponse {
    /// Whether this is a `.deferred` response, whose answer its work makes.
    public var isDeferred: Bool { deferredWork != nil }

    /// This response, or for a `.deferred` one the answer its work makes, here and now (for callers
    /// that are not the server: tests, a router used directly).
    public func resolvingDeferred() -> HTTPResponse {
        guard let deferredWork else { return self }
        var response = deferredWork.run()
        if response.routePattern == nil { response.routePattern = routePattern }
        return response
    }
}

/// The work of a `.deferred` response (a class, so that `HTTPResponse` stays a plain value).
final class DeferredWork: Sendable {
    let run: @Sendable () -> HTTPResponse

    init(_ run: @escaping @Sendable () -> HTTPResponse) { self.run = run }
}

/// A suspended connection waiting for its deferred response. It is resumed exactly once: by the
/// work when it finishes, or by the server stopping, whichever comes first.
final class DeferredRequest: Sendable {
    private struct State {
        /// nil after `abandon()`: the connection is closed instead of answered.
        var response: HTTPResponse?
        var resumed = false
    }

    /// The connection and its context belong to libmicrohttpd's worker; they are touched here only to
    /// resume the connection, under `state`'s lock, before it is known to be resumed.
    private struct Connection: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private let connection: Connection
    private let state = Mutex(State())

    init(connection: OpaquePointer) {
        self.connection = Connection(pointer: connection)
    }

    /// Hands `response` over (nil: close the connection) and resumes the connection, unless it was
    /// resumed already. Returns whether this call resumed it.
    @discardableResult
    func finish(with response: HTTPResponse?) -> Bool {
        state.withLock { state in
            guard !state.resumed else { return false }
            state.resumed = true
            state.response = response
            MHD_resume_connection(connection.pointer)
            return true
        }
    }

    /// The response, once the connection is resumed (on libmicrohttpd's worker).
    func takeResponse() -> HTTPResponse? {
        state.withLock { state in
            defer { state.response = nil }
            return state.response
        }
    }
}

extension HTTPServer {
    /// The threads deferred work runs on: they mostly sleep (lock waits), so a concurrent queue.
    static let deferredQueue = DispatchQueue(label: "http.deferred", attributes: .concurrent)

    /// Suspends `connection` and runs `work`; its response is queued when libmicrohttpd calls the access
    /// handler again after the resume.
    func suspend(
        _ work: DeferredWork, route: String?, connection: OpaquePointer, context: RequestContext
    ) -> MHD_Result {
        let pending = DeferredRequest(connection: connection)
        let accepted = state.withLock { state -> Bool in
            guard state.phase == .running else { return false }
            state.deferred[ObjectIdentifier(pending)] = pending
            return true
        }
        guard accepted else {  // stopping: no new suspensions; answer the plain way
            var response = work.run()
            if response.routePattern == nil { response.routePattern = route }
            return queue(response, on: connection, context: context)
        }
        context.deferred = pending
        MHD_suspend_connection(connection)
        Self.deferredQueue.async { [self] in
            var response = work.run()
            if response.routePattern == nil { response.routePattern = route }
            pending.finish(with: response)
            _ = state.withLock { $0.deferred.removeValue(forKey: ObjectIdentifier(pending)) }
        }
        return .YES
    }

    /// Resumes every connection still waiting for deferred work, to be closed unanswered, as a request
    /// still in flight past the grace period is: libmicrohttpd must not be stopped with a connection
    /// suspended.
    func abandonDeferred() {
        let waiting = state.withLock { state in
            defer { state.deferred.removeAll() }
            return Array(state.deferred.values)
        }
        for pending in waiting { pending.finish(with: nil) }
    }
}
