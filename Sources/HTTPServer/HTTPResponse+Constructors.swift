import JSON

extension HTTPResponse {
    /// `Content-Type` of JSON bodies.
    public static let jsonContentType = "application/json"
    /// The headers of a JSON body, built once (a dictionary literal per response built two arrays).
    static let jsonHeaders: HTTPHeaders = ["Content-Type": jsonContentType]
    /// `Content-Type` of problem bodies (RFC 9457).
    public static let problemContentType = "application/problem+json"

    /// A JSON body written by `value` itself, handed to the server in the writer's memory (no copy);
    /// `capacity` is a first guess at its size.
    public static func json(status: Int = 200, _ value: some JSONRepresentable, capacity: Int = 512) -> HTTPResponse {
        var json = JSONWriter(capacity: capacity)
        value.write(to: &json)
        return self.json(status: status, shared: json.finishShared())
    }

    /// A JSON body from a `JSONValue` (`.json(["status": "ok"])`).
    public static func json(status: Int = 200, _ value: JSONValue) -> HTTPResponse {
        json(status: status, encoded: value.jsonBytes())
    }

    /// A body that is already JSON text.
    public static func json(status: Int = 200, encoded bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: jsonHeaders, body: .bytes(bytes))
    }

    /// A body that is already JSON text, sent without a copy (see `SharedBytes`).
    public static func json(status: Int = 200, shared bytes: SharedBytes) -> HTTPResponse {
        HTTPResponse(status: status, headers: jsonHeaders, body: .shared(bytes))
    }

    /// A text body, `text/plain; charset=utf-8` unless `contentType` says otherwise.
    public static func text(
        status: Int = 200, _ text: String, contentType: String = "text/plain; charset=utf-8"
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .bytes(Array(text.utf8)))
    }

    /// Raw bytes with the given content type.
    public static func bytes(
        status: Int = 200, _ bytes: [UInt8], contentType: String = "application/octet-stream"
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .bytes(bytes))
    }

    /// An RFC 9457 problem; the status is the problem's.
    public static func problem(_ problem: ProblemDetails) -> HTTPResponse {
        HTTPResponse(
            status: problem.status, headers: ["Content-Type": problemContentType],
            body: .bytes(problem.json.jsonBytes()))
    }

    /// An RFC 9457 problem built in place.
    public static func problem(
        status: Int, type: String, title: String, detail: String? = nil, extras: [(String, JSONValue)] = []
    ) -> HTTPResponse {
        problem(ProblemDetails(type: type, title: title, status: status, detail: detail, extras: extras))
    }

    /// A file range streamed from the file (see `FileRegion`); `HEAD` gets the same `Content-Length` and no body.
    public static func file(
        status: Int = 200, _ region: FileRegion, contentType: String = "application/octet-stream"
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .file(region))
    }

    /// A Server-Sent Events stream subscribed to `broadcaster` (`text/event-stream`, `no-cache`).
    public static func eventStream(_ broadcaster: EventBroadcaster) -> HTTPResponse {
        HTTPResponse(
            status: 200,
            headers: ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"],
            body: .eventStream(broadcaster))
    }

    /// No body; 204 unless told otherwise.
    public static func empty(status: Int = 204, headers: HTTPHeaders = [:]) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: .empty)
    }
}
