/// One complete HTTP request as a value: the server builds it once the whole body has arrived.
///
/// Handlers run synchronously on a libmicrohttpd worker thread and receive this value; nothing in
/// it refers back to the connection.
public struct HTTPRequest: Sendable {
    /// The method as sent, e.g. `"GET"`; `"HEAD"` requests are routed to `GET` routes.
    public var method: String
    /// The path, percent-decoded by libmicrohttpd, without the query (`%2F` has become `/`). Always valid
    /// UTF-8 without NUL: the server answers 400 itself to a path with `%00` or invalid UTF-8.
    public var path: String
    /// The request target exactly as sent (not decoded, query included), when known.
    public var rawURL: String?
    /// The decoded query parameters, in URL order (invalid UTF-8 is replaced by U+FFFD; `%00` is kept).
    public var query: QueryParameters
    /// The request header fields, in order; look them up case-insensitively.
    public var headers: HTTPHeaders
    /// The whole request body (empty when none was sent).
    public var body: [UInt8]
    /// The client's address: `"127.0.0.1"`, `"::1"`, or `"unix"` for a Unix-socket client.
    public var remoteAddress: String
    /// Whether the client is on this host: a loopback address (127.0.0.0/8, ::1,
    /// ::ffff:127.0.0.0/104) or a Unix-socket client.
    public var isLoopback: Bool
    /// Whether the request came over TLS.
    public var isTLS: Bool
    /// The values of the matched route's `{name}` segments, filled in by `Router`.
    public var routeParameters: [String: String]
    /// The pattern of the matched route (e.g. `/api/v1/sections/{name}`), filled in by `Router`;
    /// nil before routing and when no route matched.
    public var routePattern: String?

    public init(
        method: String,
        path: String,
        rawURL: String? = nil,
        query: QueryParameters = [:],
        headers: HTTPHeaders = [:],
        body: [UInt8] = [],
        remoteAddress: String = "127.0.0.1",
        isLoopback: Bool = true,
        isTLS: Bool = false,
        routeParameters: [String: String] = [:],
        routePattern: String? = nil
    ) {
        self.method = method
        self.path = path
        self.rawURL = rawURL
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.isLoopback = isLoopback
        self.isTLS = isTLS
        self.routeParameters = routeParameters
        self.routePattern = routePattern
    }

    /// The value of the route parameter `name` (a `{name}` segment of the pattern), or nil.
    public func parameter(_ name: String) -> String? {
        routeParameters[name]
    }

    /// The body decoded as UTF-8 (invalid sequences repaired), for text bodies.
    public var bodyText: String {
        String(decoding: body, as: UTF8.self)
    }
}
