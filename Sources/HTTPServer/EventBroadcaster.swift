import Dispatch
import Synchronization

/// Fans published events out to every connected Server-Sent Events client.
///
/// Publishing never blocks: each subscriber has a bounded queue, and a subscriber whose queue is full
/// (a slow or stalled reader) is dropped — its connection is ended — while everyone else carries on.
/// Idle streams get a `: keep-alive` comment every `keepAliveInterval`. Serve it with
/// `HTTPResponse.eventStream(broadcaster)`; call `finishAll()` (or stop the server) to end every stream.
public final class EventBroadcaster: Sendable {
    /// Events a subscriber may have waiting before it is dropped.
    public let queueCapacity: Int
    /// Time between keep-alive comments on an idle stream.
    public let keepAliveInterval: Duration

    private struct State {
        var subscribers: [ObjectIdentifier: EventSubscriber] = [:]
        var dropped = 0
    }

    private let state = Mutex(State())
    /// `state.subscribers.count`, stored after every change under the lock, read without it.
    private let connected = Atomic<Int>(0)
    private let timer: KeepAliveTimer

    public init(queueCapacity: Int = 1024, keepAliveInterval: Duration = .seconds(15)) {
        precondition(queueCapacity > 0, "queueCapacity must be positive")
        self.queueCapacity = queueCapacity
        self.keepAliveInterval = keepAliveInterval
        timer = KeepAliveTimer(interval: keepAliveInterval)
        timer.start { [weak self] in self?.sendKeepAlive() }
    }

    deinit {
        timer.cancel()
    }

    /// Sends `event` to every subscriber.
    public func publish(_ event: ServerSentEvent) {
        let bytes = event.encoded
        var overflowed: [EventSubscriber] = []
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers where !subscriber.enqueue(bytes) {
            overflowed.append(subscriber)
        }
        guard !overflowed.isEmpty else { return }
        state.withLock { state in
            for subscriber in overflowed
            where state.subscribers.removeValue(forKey: ObjectIdentifier(subscriber)) != nil {
                state.dropped += 1
            }
            connected.store(state.subscribers.count, ordering: .relaxed)
        }
        for subscriber in overflowed { subscriber.drop() }
    }

    /// Sends an event with this id, type and data (typically one line of JSON).
    public func publish(id: UInt64, event: String, data: String) {
        publish(ServerSentEvent(id: id, event: event, data: data))
    }

    /// Connected subscribers.
    public var subscriberCount: Int {
        state.withLock { $0.subscribers.count }
    }

    /// Whether anyone is connected, without taking the lock: a publisher checks it before building an
    /// event nobody would receive (a subscriber connecting meanwhile gets the events after it).
    public var hasSubscribers: Bool { connected.load(ordering: .relaxed) > 0 }

    /// Subscribers dropped so far because their queue overflowed.
    public var droppedCount: Int {
        state.withLock { $0.dropped }
    }

    /// Ends every current stream cleanly (after what is already queued).
    public func finishAll() {
        let subscribers = state.withLock { state in
            defer {
                state.subscribers.removeAll()
                connected.store(0, ordering: .relaxed)
            }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    /// The current subscribers (tests).
    var subscribers: [EventSubscriber] {
        state.withLock { Array($0.subscribers.values) }
    }

    func subscribe(_ subscriber: EventSubscriber) {
        state.withLock { state in
            state.subscribers[ObjectIdentifier(subscriber)] = subscriber
            connected.store(state.subscribers.count, ordering: .relaxed)
        }
    }

    func unsubscribe(_ subscriber: EventSubscriber) {
        state.withLock { state in
            state.subscribers.removeValue(forKey: ObjectIdentifier(subscriber))
            connected.store(state.subscribers.count, ordering: .relaxed)
        }
    }

    private func sendKeepAlive() {
        let comment = ServerSentEvent.comment("keep-alive")
        for subscriber in state.withLock({ Array($0.subscribers.values) }) {
            subscriber.enqueueIfIdle(comment)
        }
    }
}

/// A repeating timer on its own serial queue; cancelled when the broadcaster goes away.
final class KeepAliveTimer: Sendable {
    /// DispatchSourceTimer is thread-safe but not marked Sendable.
    private struct Source: @unchecked Sendable {
        var timer: DispatchSourceTimer?
    }

    private let source: Mutex<Source>
    private let interval: Duration

    init(interval: Duration) {
        self.interval = interval
        source = Mutex(Source())
    }

    func start(_ tick: @escaping @Sendable () -> Void) {
        let (seconds, attoseconds) = interval.components
        let nanoseconds = max(1_000_000, Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "HTTPServer.keep-alive"))
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds))
        timer.setEventHandler(handler: tick)
        timer.resume()
        let box = Source(timer: timer)
        source.withLock { $0 = box }
    }

    func cancel() {
        source.withLock { source in
            source.timer?.cancel()
            source.timer = nil
        }
    }
}
