import CHttpd
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One Server-Sent Events connection: a bounded queue of encoded events that libmicrohttpd drains
/// through a content-reader callback.
///
/// When the queue is empty the reader suspends the connection (no pool thread is held and nothing
/// spins) and a later `enqueue`, `finish` or `drop` resumes it. The connection pointer is only used
/// while the state is not `.closed`; libmicrohttpd calls the completion and free callbacks (which
/// close it here, under the same lock) before it frees the connection or closes its socket.
final class EventSubscriber: Sendable {
    enum Phase {
        case streaming
        case suspended
        /// End cleanly once the queue is drained (server stop, `finishAll`).
        case finishing
        /// Overflowed: end with an error at once.
        case dropped
        /// libmicrohttpd is done with the connection.
        case closed
    }

    private struct State: ~Copyable {
        var phase = Phase.streaming
        var queue: [[UInt8]] = []
        var head = 0
        var pending: [UInt8]
        var pendingOffset = 0
        var bytesSent: UInt64 = 0
        /// Reader-callback invocations (tests check that an idle stream is not polled).
        var readCalls = 0
        let connection: ConnectionHandle

        var queuedCount: Int { queue.count - head }
    }

    let capacity: Int
    private let state: Mutex<State>
    let broadcaster: EventBroadcaster

    init(broadcaster: EventBroadcaster, connection: ConnectionHandle) {
        self.broadcaster = broadcaster
        capacity = broadcaster.queueCapacity
        state = Mutex(State(pending: ServerSentEvent.comment("connected"), connection: connection))
    }

    /// Queues `bytes`; false when the queue is full (the caller then drops this subscriber).
    func enqueue(_ bytes: [UInt8]) -> Bool {
        state.withLock { state in
            switch state.phase {
            case .closed, .dropped, .finishing: return true
            case .streaming, .suspended: break
            }
            guard state.queuedCount < capacity else { return false }
            state.queue.append(bytes)
            Self.resumeIfSuspended(&state)
            return true
        }
    }

    /// Queues a keep-alive comment when nothing is waiting to be sent.
    func enqueueIfIdle(_ bytes: [UInt8]) {
        state.withLock { state in
            guard state.phase == .suspended || state.phase == .streaming,
                state.queuedCount == 0, state.pendingOffset >= state.pending.count
            else { return }
            state.queue.append(bytes)
            Self.resumeIfSuspended(&state)
        }
    }

    /// Ends the stream after what is queued (server stop).
    func finish() {
        state.withLock { state in
            guard state.phase == .streaming || state.phase == .suspended else { return }
            let wasSuspended = state.phase == .suspended
            state.phase = .finishing
            if wasSuspended { MHD_resume_connection(state.connection.pointer) }
        }
    }

    /// Ends the connection now: resumes it if suspended, and shuts its socket down so a client that
    /// stopped reading (a full socket buffer, so libmicrohttpd never calls the reader) is let go too.
    func drop() {
        state.withLock { state in
            guard state.phase != .closed, state.phase != .dropped else { return }
            let wasSuspended = state.phase == .suspended
            state.phase = .dropped
            state.queue = []
            state.head = 0
            if wasSuspended { MHD_resume_connection(state.connection.pointer) }
            if state.connection.socket >= 0 { shutdown(state.connection.socket, Int32(SHUT_RDWR)) }
        }
    }

    /// libmicrohttpd finished with the connection (completion or free callback); idempotent.
    func connectionClosed() {
        let wasOpen = state.withLock { state in
            defer { state.phase = .closed }
            return state.phase != .closed
        }
        if wasOpen { broadcaster.unsubscribe(self) }
    }

    var bytesSent: UInt64 {
        state.withLock { $0.bytesSent }
    }

    var readCalls: Int {
        state.withLock { $0.readCalls }
    }

    var isSuspended: Bool {
        state.withLock { $0.phase == .suspended }
    }

    /// The content-reader callback's work: copies as many queued bytes as fit into `buffer` (whole events
    /// and the start of the next), or returns 0 after suspending the connection, or an end marker.
    ///
    /// libmicrohttpd calls the reader about once per turn of its loop for this connection; handing it one
    /// event per call capped a stream at a few dozen events a second while other connections kept that
    /// loop busy, and the queue of a client that was reading all along overflowed and got it dropped.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        state.withLock { state in
            state.readCalls += 1
            if state.phase == .dropped || state.phase == .closed { return MHD_CONTENT_READER_END_WITH_ERROR }
            var written = 0
            while written < buffer.count {
                if state.pendingOffset >= state.pending.count {
                    guard state.head < state.queue.count else { break }
                    state.pending = state.queue[state.head]
                    state.pendingOffset = 0
                    state.head += 1
                    if state.head >= 64, state.head * 2 >= state.queue.count {
                        state.queue.removeFirst(state.head)
                        state.head = 0
                    }
                }
                let count = min(state.pending.count - state.pendingOffset, buffer.count - written)
                let start = state.pendingOffset
                state.pending.withUnsafeBytes { source in
                    UnsafeMutableRawBufferPointer(rebasing: buffer[written..<written + count]).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: source[start..<start + count]))
                }
                state.pendingOffset += count
                written += count
            }
            if written > 0 {
                state.bytesSent += UInt64(written)
                return written
            }
            if state.phase == .finishing { return MHD_CONTENT_READER_END_OF_STREAM }
            state.phase = .suspended
            MHD_suspend_connection(state.connection.pointer)
            return 0
        }
    }

    private static func resumeIfSuspended(_ state: inout State) {
        guard state.phase == .suspended else { return }
        state.phase = .streaming
        MHD_resume_connection(state.connection.pointer)
    }
}

/// A libmicrohttpd connection pointer and its socket, carried across threads. Only used while the
/// owning subscriber is not closed (see `EventSubscriber`).
struct ConnectionHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    let socket: Int32
}
