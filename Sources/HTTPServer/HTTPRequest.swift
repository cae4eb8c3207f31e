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

    /// The raw URL's path when it has no `%` escapes (so it is its own decoded form), else nil. That is
    /// `path` itself when the two are as long, so no new String is made for the usual request.
    var literalPath: String? {
        guard var rawURL else { return nil }
        rawURL.makeContiguousUTF8()
        let length = rawURL.utf8.withContiguousStorageIfAvailable { bytes -> Int? in
            guard bytes.first == UInt8(ascii: "/") else { return nil }
            var length = 0
            for byte in bytes {
                if byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") { break }
                if byte == UInt8(ascii: "%") { return nil }
                length += 1
            }
            return length
        }
        guard let length, let length else { return nil }
        // Without escapes, libmicrohttpd's decoded path is the raw path's bytes: the same length, the same text.
        if length == path.utf8.count { return path }
        return String(decoding: rawURL.utf8.prefix(length), as: UTF8.self)
    }

    /// The path's segments, split at the raw target's `/` and then each percent-decoded on its own, so an
    /// encoded slash (`%2F`) stays inside its segment (`path` has lost that distinction). Nil when the raw
    /// target is unknown or not a path (`*`, absolute form); the router then splits `path`.
    public var pathSegments: [String]? {
        guard let rawURL, rawURL.hasPrefix("/") else { return nil }
        let target = rawURL.utf8.prefix { $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }
        return target.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst().map {
            Self.percentDecoded($0)
        }
    }

    /// `%XX` sequences replaced by their byte (others kept as they are), read as UTF-8.
    public static func percentDecoded<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        let input = Array(bytes)
        if !input.contains(UInt8(ascii: "%")) { return String(decoding: input, as: UTF8.self) }
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "%"), index + 2 < input.count,
                let high = hex(input[index + 1]), let low = hex(input[index + 2])
            {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(input[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The body decoded as UTF-8 (invalid sequences repaired), for text bodies.
    public var bodyText: String {
        String(decoding: body, as: UTF8.self)
    }
}
