import JSON

/// An RFC 9457 problem: the body of every error response (`application/problem+json`).
///
/// `type` is a relative URI such as `/problems/not-found`; `extras` are further members
/// (`limit`, `pids`, …) written after the standard ones, in order.
public struct ProblemDetails: Sendable, Hashable, Error {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    /// Further members; a member named like a standard one is ignored.
    public var extras: [(String, JSONValue)]

    public init(
        type: String,
        title: String,
        status: Int,
        detail: String? = nil,
        extras: [(String, JSONValue)] = []
    ) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.extras = extras
    }

    public static func == (lhs: ProblemDetails, rhs: ProblemDetails) -> Bool {
        lhs.json == rhs.json
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(json)
    }

    /// The problem as a JSON object: `type`, `title`, `status`, `detail` (when present), then the extras.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("type", .string(type)), ("title", .string(title)), ("status", .int(Int64(status))),
        ]
        if let detail { members.append(("detail", .string(detail))) }
        let reserved: Set<String> = ["type", "title", "status", "detail"]
        members += extras.filter { !reserved.contains($0.0) }
        return .object(members)
    }
}

extension ProblemDetails {
    /// 400 `/problems/bad-request`.
    public static func badRequest(_ detail: String? = nil) -> ProblemDetails {
        ProblemDetails(type: "/problems/bad-request", title: "Bad Request", status: 400, detail: detail)
    }

    /// 404 `/problems/not-found`.
    public static func notFound(_ detail: String? = nil) -> ProblemDetails {
        ProblemDetails(type: "/problems/not-found", title: "Not Found", status: 404, detail: detail)
    }

    /// 405 `/problems/method-not-allowed`, with the allowed methods as the `allow` member.
    public static func methodNotAllowed(_ method: String, allowed: [String]) -> ProblemDetails {
        ProblemDetails(
            type: "/problems/method-not-allowed", title: "Method Not Allowed", status: 405,
            detail: "\(method) is not allowed here; allowed: \(allowed.joined(separator: ", "))",
            extras: [("allow", .array(allowed.map { .string($0) }))])
    }

    /// 413 `/problems/payload-too-large`, with the limit in bytes as the `limit` member.
    public static func payloadTooLarge(limit: Int) -> ProblemDetails {
        ProblemDetails(
            type: "/problems/payload-too-large", title: "Payload Too Large", status: 413,
            detail: "the request body exceeds the limit of \(limit) bytes",
            extras: [("limit", .int(Int64(limit)))])
    }

    /// 500 `/problems/internal`. Keep internals out of `detail`: log them instead.
    public static func internalError(_ detail: String? = nil) -> ProblemDetails {
        ProblemDetails(type: "/problems/internal", title: "Internal Server Error", status: 500, detail: detail)
    }
}
