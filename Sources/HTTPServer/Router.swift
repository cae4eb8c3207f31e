/// Handles one request; runs synchronously on a server worker thread.
public typealias HTTPHandler = @Sendable (HTTPRequest) -> HTTPResponse

/// Wraps dispatch: call `next` to continue, or return a response to short-circuit (auth, Host check).
/// It sees `request.routePattern` and `routeParameters` already filled in (nil pattern: no route matched).
public typealias HTTPMiddleware = @Sendable (HTTPRequest, _ next: HTTPHandler) -> HTTPResponse

/// One entry of the route table.
public struct Route: Sendable, Hashable, CustomStringConvertible {
    public var method: String
    public var pattern: String

    public init(method: String, pattern: String) {
        self.method = method
        self.pattern = pattern
    }

    public var description: String { "\(method) \(pattern)" }
}

/// Maps method and decoded path to a handler.
///
/// Build it once, then hand `respond(to:)` (or the router itself via `handler`) to the server.
/// Unknown path: 404 problem. Known path, other method: 405 problem with `Allow` (`HEAD` is implied by
/// `GET`, and a `HEAD` request runs the `GET` handler). Middleware runs for every request, matched or not,
/// outermost first, so it can refuse a request before a 404 gives away which paths exist.
public struct Router: Sendable {
    struct Entry: Sendable {
        var method: String
        var pattern: RoutePattern
        var handler: HTTPHandler
        /// `handler` inside the middleware, composed once when the table changes instead of for
        /// every request (the composition allocated a closure per middleware per request).
        var chained: HTTPHandler
    }

    private var entries: [Entry] = []
    private var middleware: [HTTPMiddleware] = []
    /// A route whose pattern is all literal, by its path's length, its path and its place in `entries`.
    struct LiteralRoute: Sendable {
        var length: Int
        var path: String
        var entry: Int
    }

    /// The routes whose pattern is all literal: a request for one (a listing, `/healthz`, `/metrics`) is
    /// routed without splitting its path or trying every pattern (the polled listing's hot path). Such
    /// a route is always the most specific match for its path, so the outcome is the same. A short list
    /// scanned with the lengths compared first: cheaper than hashing the path and the method into
    /// dictionaries for every request.
    private var literalRoutes: [LiteralRoute] = []

    public init() {}

    /// Registers `handler` for `method` (upper-case, e.g. `"POST"`) and `pattern`.
    /// Registering the same method and pattern twice is a programming error.
    public mutating func add(_ method: String, _ pattern: String, _ handler: @escaping HTTPHandler) {
        let method = method.uppercased()
        precondition(
            !entries.contains { $0.method == method && $0.pattern.description == pattern },
            "route registered twice: \(method) \(pattern)")
        let entry = Entry(
            method: method, pattern: RoutePattern(pattern), handler: handler,
            chained: Self.chain(middleware, handler))
        entries.append(entry)
        if entry.pattern.isLiteral {
            literalRoutes.append(LiteralRoute(length: pattern.utf8.count, path: pattern, entry: entries.count - 1))
        }
    }

    /// `endpoint` wrapped in `middleware`, the first outermost.
    private static func chain(_ middleware: [HTTPMiddleware], _ endpoint: @escaping HTTPHandler) -> HTTPHandler {
        middleware.reversed().reduce(endpoint) { next, wrap in
            { request in wrap(request, next) }
        }
    }

    public mutating func get(_ pattern: String, _ handler: @escaping HTTPHandler) { add("GET", pattern, handler) }
    public mutating func post(_ pattern: String, _ handler: @escaping HTTPHandler) { add("POST", pattern, handler) }
    public mutating func put(_ pattern: String, _ handler: @escaping HTTPHandler) { add("PUT", pattern, handler) }
    public mutating func delete(_ pattern: String, _ handler: @escaping HTTPHandler) {
        add("DELETE", pattern, handler)
    }

    /// Adds middleware; the first added runs outermost.
    public mutating func use(_ middleware: @escaping HTTPMiddleware) {
        self.middleware.append(middleware)
        for index in entries.indices { entries[index].chained = Self.chain(self.middleware, entries[index].handler) }
    }

    /// The route table in registration order (to compare with `openapi.json`).
    public var routes: [Route] {
        entries.map { Route(method: $0.method, pattern: $0.pattern.description) }
    }

    /// The outcome of looking up a request.
    public enum Match: Sendable {
        /// A route matched: its pattern, parameters and handler.
        case found(pattern: String, parameters: [String: String], handler: HTTPHandler)
        /// The path matches routes, but none for this method; `allowed` is sorted and includes `HEAD` with `GET`.
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    /// Looks up `method` and decoded `path`.
    public func match(method: String, path: String) -> Match {
        match(method: method, segments: RoutePattern.split(path))
    }

    /// Looks up `method` and a path given as its segments, each decoded on its own.
    public func match(method: String, segments: [String]) -> Match {
        switch lookup(method: method, segments: segments) {
        case .found(let entry, let parameters):
            .found(pattern: entry.pattern.description, parameters: parameters, handler: entry.handler)
        case .methodNotAllowed(let allowed): .methodNotAllowed(allowed: allowed)
        case .notFound: .notFound
        }
    }

    private enum Lookup {
        case found(Entry, [String: String])
        case methodNotAllowed([String])
        case notFound
    }

    private func lookup(method: String, segments: [String]) -> Lookup {
        // Methods are case-sensitive (RFC 9110 9.1): `delete` is not DELETE, whatever a proxy in front
        // made of it, so it is never routed to DELETE's handler.
        var candidates: [(Entry, [String: String])] = []
        for entry in entries {
            if let parameters = entry.pattern.match(segments: segments) { candidates.append((entry, parameters)) }
        }
        guard !candidates.isEmpty else { return .notFound }
        let accepted = candidates.filter { $0.0.method == method }
        let fallback = method == "HEAD" ? candidates.filter { $0.0.method == "GET" } : []
        let usable = accepted.isEmpty ? fallback : accepted
        guard var best = usable.first else {
            var allowed = Set(candidates.map(\.0.method))
            if allowed.contains("GET") { allowed.insert("HEAD") }
            return .methodNotAllowed(allowed.sorted())
        }
        for candidate in usable.dropFirst() where candidate.0.pattern.isMoreSpecific(than: best.0.pattern) {
            best = candidate
        }
        return .found(best.0, best.1)
    }

    /// Routes `request` through the middleware to its handler (or to the 404/405 problem) and stamps
    /// the response with the matched pattern.
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        var request = request
        let chained: HTTPHandler
        let found: Lookup
        if let entry = literalEntry(for: request) {
            found = .found(entry, [:])
        } else {
            found = lookup(method: request.method, segments: request.pathSegments ?? RoutePattern.split(request.path))
        }
        switch found {
        case .found(let entry, let parameters):
            request.routePattern = entry.pattern.description
            request.routeParameters = parameters
            chained = entry.chained
        case .methodNotAllowed(let allowed):
            chained = Self.chain(middleware) { request in
                HTTPResponse.problem(.methodNotAllowed(request.method, allowed: allowed))
                    .adding("Allow", allowed.joined(separator: ", "))
            }
        case .notFound:
            chained = Self.chain(middleware) { request in
                .problem(.notFound("no route for \(request.method) \(request.path)"))
            }
        }
        var response = chained(request)
        if response.routePattern == nil { response.routePattern = request.routePattern }
        return response
    }

    /// The all-literal route for `request`'s path and method, if there is one.
    private func literalEntry(for request: HTTPRequest) -> Entry? {
        guard !literalRoutes.isEmpty, let path = request.literalPath else { return nil }
        let length = path.utf8.count
        for route in literalRoutes where route.length == length && route.path == path {
            if entries[route.entry].method == request.method { return entries[route.entry] }
        }
        return nil
    }

    /// `respond(to:)` as a handler for `HTTPServer`.
    public var handler: HTTPHandler {
        let router = self
        return { router.respond(to: $0) }
    }
}
