import HTTPServer
import Testing

@Suite struct RouterTests {
    static func router() -> Router {
        var router = Router()
        router.get("/healthz") { _ in .text("ok") }
        router.get("/api/v1/sections") { _ in .text("list") }
        router.post("/api/v1/sections") { _ in .text("create") }
        router.get("/api/v1/sections/{name}") { .text("get \($0.parameter("name") ?? "?")") }
        router.delete("/api/v1/sections/{name}") { .text("delete \($0.parameter("name") ?? "?")") }
        router.post("/api/v1/sections/{name}/views/{id}/move") {
            .text("move \($0.parameter("name") ?? "?") \($0.parameter("id") ?? "?")")
        }
        router.get("/api/v1/sections/special") { _ in .text("literal wins") }
        router.get("/static/{path...}") { .text("static \($0.parameter("path") ?? "?")") }
        return router
    }

    static func call(_ router: Router, _ method: String, _ path: String) -> HTTPResponse {
        router.respond(to: HTTPRequest(method: method, path: path))
    }

    @Test(arguments: [
        ("GET", "/healthz", 200, "ok"),
        ("GET", "/api/v1/sections", 200, "list"),
        ("POST", "/api/v1/sections", 200, "create"),
        ("GET", "/api/v1/sections/orders", 200, "get orders"),
        ("DELETE", "/api/v1/sections/a b", 200, "delete a b"),
        ("POST", "/api/v1/sections/orders/views/v1/move", 200, "move orders v1"),
        ("GET", "/api/v1/sections/special", 200, "literal wins"),
        ("GET", "/static/js/app.js", 200, "static js/app.js"),
        ("HEAD", "/api/v1/sections/x", 200, "get x"),
    ])
    func matches(method: String, path: String, status: Int, text: String) {
        let response = Self.call(Self.router(), method, path)
        #expect(response.status == status)
        #expect(String(decoding: response.bodyBytes, as: UTF8.self) == text)
    }

    @Test(arguments: [
        "/nope", "/api/v1/sections/", "/api/v1/sections//views/1/move", "/api/v1/sections/a/b",
        "/static", "/static/", "/healthz/",
    ])
    func unknownPathIs404Problem(path: String) {
        let response = Self.call(Self.router(), "GET", path)
        #expect(response.status == 404)
        #expect(response.headers["content-type"] == "application/problem+json")
        #expect(response.routePattern == nil)
        #expect(String(decoding: response.bodyBytes, as: UTF8.self).contains(#""type":"/problems/not-found""#))
    }

    @Test func wrongMethodIs405WithAllow() {
        let response = Self.call(Self.router(), "PUT", "/api/v1/sections/orders")
        #expect(response.status == 405)
        #expect(response.headers["Allow"] == "DELETE, GET, HEAD")
        let body = String(decoding: response.bodyBytes, as: UTF8.self)
        #expect(body.contains(#""type":"/problems/method-not-allowed""#))
        #expect(body.contains(#""status":405"#))
        let post = Self.call(Self.router(), "DELETE", "/api/v1/sections")
        #expect(post.headers["Allow"] == "GET, HEAD, POST")
    }

    /// The raw target decides the segments: an encoded `/` stays inside its segment.
    @Test(arguments: [
        ("DELETE", "/api/v1/sections/orders%2Fx", 200, "delete orders/x"),
        ("GET", "/api/v1/sections/a%2fb?x=%2F", 200, "get a/b"),
        ("GET", "/api/v1/sections/%6Frders", 200, "get orders"),
        ("GET", "/api/v1/sections/100%25", 200, "get 100%"),
        ("GET", "/api/v1/sections/a%2", 200, "get a%2"),
        ("POST", "/api/v1/sections/a%2Fviews%2Fv1%2Fmove", 405, ""),
        ("GET", "/static/js%2Fapp.js", 200, "static js/app.js"),
    ])
    func encodedSlashStaysInItsSegment(method: String, rawURL: String, status: Int, text: String) {
        let decoded = String(rawURL.prefix { $0 != "?" }).removingPercentEncodingForTest()
        let response = Self.router().respond(to: HTTPRequest(method: method, path: decoded, rawURL: rawURL))
        #expect(response.status == status)
        if status == 200 { #expect(String(decoding: response.bodyBytes, as: UTF8.self) == text) }
    }

    /// As the server calls it (with the raw target): all-literal routes are looked up directly, with
    /// the same outcomes as the general match, which the other cases and encoded paths still take.
    @Test(
        arguments: [
            ("GET", "/healthz?probe=1", 200, "ok", "/healthz"),
            ("GET", "/api/v1/sections?limit=5", 200, "list", "/api/v1/sections"),
            ("POST", "/api/v1/sections", 200, "create", "/api/v1/sections"),
            ("HEAD", "/api/v1/sections", 200, "list", "/api/v1/sections"),
            ("GET", "/api/v1/sections/special", 200, "literal wins", "/api/v1/sections/special"),
            ("DELETE", "/api/v1/sections/special", 200, "delete special", "/api/v1/sections/{name}"),
            ("GET", "/api/v1/%73ections", 200, "list", "/api/v1/sections"),
            ("PUT", "/api/v1/sections", 405, "", nil),
            ("get", "/healthz", 405, "", nil),
            ("GET", "/healthz/", 404, "", nil),
            ("GET", "/healthz#top", 200, "ok", "/healthz"),
        ] as [(String, String, Int, String, String?)])
    func literalRoutesWithTheRawTarget(method: String, rawURL: String, status: Int, text: String, pattern: String?) {
        let decoded = String(rawURL.prefix { $0 != "?" }).removingPercentEncodingForTest()
        let response = Self.router().respond(to: HTTPRequest(method: method, path: decoded, rawURL: rawURL))
        #expect(response.status == status)
        #expect(response.routePattern == pattern)
        if status == 200 { #expect(String(decoding: response.bodyBytes, as: UTF8.self) == text) }
        if status == 405 && method == "PUT" { #expect(response.headers["Allow"] == "GET, HEAD, POST") }
    }

    @Test func methodsAreCaseSensitive() {
        let response = Self.call(Self.router(), "delete", "/api/v1/sections/orders")
        #expect(response.status == 405)
        #expect(response.headers["Allow"] == "DELETE, GET, HEAD")
        #expect(Self.call(Self.router(), "Get", "/healthz").status == 405)
    }

    @Test func responseCarriesRoutePattern() {
        let response = Self.call(Self.router(), "POST", "/api/v1/sections/a/views/v2/move")
        #expect(response.routePattern == "/api/v1/sections/{name}/views/{id}/move")
    }

    @Test func routeTableListsEveryRoute() {
        let routes = Self.router().routes
        #expect(routes.count == 8)
        #expect(routes.contains(Route(method: "DELETE", pattern: "/api/v1/sections/{name}")))
        #expect(routes.first == Route(method: "GET", pattern: "/healthz"))
    }

    @Test func middlewareCanShortCircuitAndSeesThePattern() {
        var router = Self.router()
        router.use { request, next in
            guard request.headers["Authorization"] == "Bearer t" else {
                return .problem(status: 401, type: "/problems/unauthorized", title: "Unauthorized")
                    .adding("WWW-Authenticate", "Bearer")
            }
            return next(request).adding("X-Route", request.routePattern ?? "none")
        }
        let refused = Self.call(router, "GET", "/api/v1/sections/x")
        #expect(refused.status == 401)
        #expect(refused.routePattern == "/api/v1/sections/{name}")
        let allowed = router.respond(
            to: HTTPRequest(method: "GET", path: "/api/v1/sections/x", headers: ["authorization": "Bearer t"]))
        #expect(allowed.status == 200)
        #expect(allowed.headers["X-Route"] == "/api/v1/sections/{name}")
        let unknown = router.respond(
            to: HTTPRequest(method: "GET", path: "/zzz", headers: ["Authorization": "Bearer t"]))
        #expect(unknown.status == 404)
        #expect(unknown.headers["X-Route"] == "none")
    }

    /// Middleware added before the routes, between them or after them wraps every route, and the 404 and
    /// 405 answers too (the chain is composed when the table changes, not per request).
    @Test func middlewareWrapsEveryOutcomeWhenEverItWasAdded() {
        var router = Router()
        router.use { request, next in next(request).adding("X-Order", "first") }
        router.get("/a") { _ in .text("a") }
        router.use { request, next in next(request).adding("X-Order", "second") }
        router.get("/b/{name}") { _ in .text("b") }
        router.use { request, next in next(request).adding("X-Order", "third") }
        let requests = [
            HTTPRequest(method: "GET", path: "/a", rawURL: "/a"), HTTPRequest(method: "GET", path: "/a"),
            HTTPRequest(method: "GET", path: "/b/x", rawURL: "/b/x?y=1"), HTTPRequest(method: "GET", path: "/zzz"),
            HTTPRequest(method: "PUT", path: "/a", rawURL: "/a"), HTTPRequest(method: "PUT", path: "/b/x"),
        ]
        let statuses = requests.map { router.respond(to: $0).status }
        #expect(statuses == [200, 200, 200, 404, 405, 405])
        for request in requests {
            let response = router.respond(to: request)
            #expect(response.headers.values(for: "X-Order") == ["third", "second", "first"], "\(request.path)")
        }
        #expect(router.respond(to: requests[4]).headers["Allow"] == "GET, HEAD")
    }

    @Test func middlewareRunsOutermostFirst() {
        var router = Router()
        router.get("/") { _ in .text("x") }
        router.use { request, next in next(request).adding("X-Order", "outer") }
        router.use { request, next in next(request).adding("X-Order", "inner") }
        let response = Self.call(router, "GET", "/")
        #expect(response.headers.values(for: "x-order") == ["inner", "outer"])
    }
}

extension String {
    /// What libmicrohttpd hands over as the path: every valid `%XX` decoded.
    fileprivate func removingPercentEncodingForTest() -> String {
        var bytes: [UInt8] = []
        let input = Array(utf8)
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "%"), index + 2 < input.count,
                let value = UInt8(String(decoding: input[index + 1...index + 2], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(input[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
