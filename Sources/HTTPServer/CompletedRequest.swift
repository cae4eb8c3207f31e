/// What the server reports once per finished request (answered, or aborted by the client or by `stop()`),
/// for access logs and metrics.
public struct CompletedRequest: Sendable {
    /// How the exchange ended.
    public enum Outcome: Sendable, Hashable {
        /// The response was sent completely.
        case completed
        /// The client went away, an error or a timeout ended it, or the server stopped.
        case aborted
    }

    public var method: String
    /// The matched route's pattern, nil when no route matched (or the server answered on its own, e.g. 413).
    public var route: String?
    /// The decoded path, for logs (may hold names; do not use it as a metrics label).
    public var path: String
    /// The status sent, or 0 when no response was queued before the request ended.
    public var status: Int
    /// Body bytes handed to the connection (0 for `HEAD`).
    public var bytesSent: UInt64
    /// From the request line's arrival to the end of the exchange.
    public var durationSeconds: Double
    public var remoteAddress: String
    public var outcome: Outcome
}
