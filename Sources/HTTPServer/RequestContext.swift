/// Per-request state between libmicrohttpd's callbacks for one request.
///
/// Created in the URI-log callback (libmicrohttpd stores it as the request's `*req_cls`), used by the
/// access handler on the connection's thread, and released in the completion callback, which also
/// runs for aborted requests. Only one thread touches it at a time.
final class RequestContext {
    let rawURL: String?
    let started = ContinuousClock.now
    var headersSeen = false
    var method = ""
    var path = ""
    /// False when the decoded path was not valid UTF-8.
    var pathIsValid = true
    var body: [UInt8] = []
    var bodyTooLarge = false
    /// Bytes of an oversize body read and thrown away.
    var discardedBytes = 0
    /// Set once a response has been queued.
    var status = 0
    var route: String?
    var bodyBytes: UInt64 = 0
    var remoteAddress = ""
    var isLoopback = false
    var subscriber: EventSubscriber?

    init(rawURL: String?) {
        self.rawURL = rawURL
    }

    /// Whether the path part of the raw URL holds `%00`.
    var rawPathHasEncodedNUL: Bool {
        guard let rawURL else { return false }
        let path = rawURL.prefix { $0 != "?" && $0 != "#" }
        return path.lowercased().contains("%00")
    }
}
