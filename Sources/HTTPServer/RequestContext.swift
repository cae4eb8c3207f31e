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
    /// The request's header fields, read once when the headers are complete.
    var headers = HTTPHeaders()
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
    /// Set while the connection is suspended for a `.deferred` response.
    var deferred: DeferredRequest?

    init(rawURL: String?) {
        self.rawURL = rawURL
    }

    /// Whether the path part of the raw URL holds `%00`.
    var rawPathHasEncodedNUL: Bool {
        guard var rawURL else { return false }
        rawURL.makeContiguousUTF8()
        return rawURL.utf8.withContiguousStorageIfAvailable(Self.hasEncodedNUL) ?? false
    }

    private static func hasEncodedNUL(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        // Byte by byte: `%00` has no letters to fold, and this runs for every request.
        var zeros = -1  // -1: no `%` pending; else the count of `0` seen after one
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "?"), UInt8(ascii: "#"): return false
            case UInt8(ascii: "%"): zeros = 0
            case UInt8(ascii: "0") where zeros >= 0:
                zeros += 1
                if zeros == 2 { return true }
            default: zeros = -1
            }
        }
        return false
    }
}
