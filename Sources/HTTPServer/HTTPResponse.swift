/// A response as a value: status, header fields and a body that knows how the server sends it.
///
/// Build one with the static constructors (`.json`, `.text`, `.problem`, `.file`, `.eventStream`,
/// `.empty`) or the memberwise initializer. `Content-Length` is computed by the server: do not set it.
public struct HTTPResponse: Sendable {
    /// How the body is produced.
    public enum Body: Sendable {
        /// No body (`Content-Length: 0`).
        case empty
        /// These bytes, copied once into libmicrohttpd.
        case bytes([UInt8])
        /// These bytes, handed to libmicrohttpd without a copy (for bodies sent many times).
        case shared(SharedBytes)
        /// A file range streamed from the file without passing through Swift; see `FileRegion`.
        case file(FileRegion)
        /// Bytes written into libmicrohttpd's send buffer as the client takes them; see `StreamedBody`.
        case stream(any StreamedBody)
        /// A Server-Sent Events stream fed by the broadcaster until the client leaves,
        /// the subscriber falls too far behind, or the server stops.
        case eventStream(EventBroadcaster)
    }

    /// The status code, e.g. 200.
    public var status: Int
    /// Header fields to send; `Content-Type` belongs here.
    public var headers: HTTPHeaders
    public var body: Body
    /// The route pattern that produced this response, set by `Router.respond(to:)`.
    /// The server reports it in `CompletedRequest.route` (access log, metrics).
    public var routePattern: String?
    /// Set by `.deferred`: the response is made by this work, off the server's workers.
    var deferredWork: DeferredWork?

    public init(status: Int, headers: HTTPHeaders = [:], body: Body = .empty, routePattern: String? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.routePattern = routePattern
    }

    /// The number of body bytes, when known in advance (nil for an event stream).
    public var bodyLength: UInt64? {
        switch body {
        case .empty: 0
        case .bytes(let bytes): UInt64(bytes.count)
        case .shared(let bytes): UInt64(bytes.count)
        case .file(let region): region.length
        case .stream(let body): body.length
        case .eventStream: nil
        }
    }

    /// The body bytes of a `.bytes` or `.shared` response, or all a `.stream` body writes (empty otherwise,
    /// and for a stream that fails or does not write its `length`), mostly for tests.
    public var bodyBytes: [UInt8] {
        switch body {
        case .bytes(let bytes): bytes
        case .shared(let bytes): bytes.array
        case .stream(let body): body.collect() ?? []
        default: []
        }
    }

    /// A copy with one more header field.
    public func adding(_ name: String, _ value: String) -> HTTPResponse {
        var copy = self
        copy.headers.add(name, value)
        return copy
    }
}
