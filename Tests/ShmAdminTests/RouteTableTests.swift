import Foundation
import Testing

@testable import HTTPServer
@testable import ShmAdmin

/// The route table of `API.router()` against the committed `openapi.json`: the same operations, each
/// at the level the document gives it, and 404/405 problems for everything else.
@Suite struct RouteTableTests {
    /// `{"GET /api/v1/sections/{name}": "read", …}` from openapi.json's paths.
    static func documentedOperations() throws -> [String: String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: repositoryRoot + "/openapi.json"))
        guard let document = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let paths = document["paths"] as? [String: Any]
        else { throw HarnessError("openapi.json has no paths object") }
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        var operations: [String: String] = [:]
        for (path, item) in paths {
            guard let item = item as? [String: Any] else { throw HarnessError("path item \(path) is not an object") }
            for (method, operation) in item where methods.contains(method) {
                guard let operation = operation as? [String: Any], let level = operation["x-shm-admin-level"] as? String
                else { throw HarnessError("\(method) \(path) has no x-shm-admin-level") }
                operations["\(method.uppercased()) \(path)"] = level
            }
        }
        return operations
    }

    /// `/static/{path...}` is `/static/{path}` in OpenAPI.
    static func normalised(_ route: Route) -> String {
        "\(route.method) \(route.pattern.replacingOccurrences(of: "...}", with: "}"))"
    }

    static func routerOperations() throws -> Set<String> {
        let box = try APIHarness()
        defer { box.close() }
        return Set(box.router.routes.map(normalised))
    }

    @Test func routeTableEqualsOpenAPIPaths() throws {
        let documented = Set(try Self.documentedOperations().keys)
        let served = try Self.routerOperations()
        #expect(served.subtracting(documented).isEmpty, "routes openapi.json lacks: \(served.subtracting(documented))")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served))")
        #expect(served.count >= 25, "the route table looks truncated: \(served.count) routes")
    }

    @Test func noRouteIsRegisteredTwice() throws {
        let box = try APIHarness()
        defer { box.close() }
        let routes = box.router.routes.map(Self.normalised)
        #expect(routes.count == Set(routes).count)
    }

    /// A concrete request path for a pattern: parameters get values that name nothing.
    static func samplePath(_ pattern: String, prefix: String) -> String {
        pattern
            .replacingOccurrences(of: "{name}", with: prefix + "absent")
            .replacingOccurrences(of: "{id}", with: "v999999")
            .replacingOccurrences(of: "{lease}", with: "l999999-0")
            .replacingOccurrences(of: "{path}", with: "absent.js")
    }

    /// The level a route enforces, found by asking it: without a token, then with the read token.
    static func observedLevel(_ box: APIHarness, method: String, path: String) -> String {
        let anonymous = box.call(method, path, token: nil)
        if anonymous.status != 401 { return "public" }
        let reader = box.call(method, path, token: APIHarness.readToken)
        if reader.status == 403 && reader.problemType == "/problems/forbidden" { return "admin" }
        return reader.status == 401 ? "unreachable" : "read"
    }

    @Test func eachRouteEnforcesItsDocumentedLevel() throws {
        let documented = try Self.documentedOperations()
        // A read token makes `read` routes closed to anonymous callers, so all three levels differ.
        let box = try APIHarness(readToken: APIHarness.readToken)
        defer { box.close() }
        for route in box.router.routes {
            let key = Self.normalised(route)
            guard let level = documented[key] else { continue }  // reported by routeTableEqualsOpenAPIPaths
            let observed = Self.observedLevel(
                box, method: route.method, path: Self.samplePath(route.pattern, prefix: box.prefix))
            #expect(observed == level, "\(key) behaves as \(observed), openapi.json says \(level)")
        }
        #expect(box.leftovers().isEmpty, "probing the levels created objects: \(box.leftovers())")
    }

    @Test func wrongMethodOnEveryDocumentedPathIs405WithAllow() throws {
        let documented = try Self.documentedOperations()
        var methodsByPath: [String: Set<String>] = [:]
        for key in documented.keys {
            let parts = key.split(separator: " ", maxSplits: 1)
            methodsByPath[String(parts[1]), default: []].insert(String(parts[0]))
        }
        let box = try APIHarness()
        defer { box.close() }
        for (pattern, methods) in methodsByPath {
            var allowed = methods
            if allowed.contains("GET") { allowed.insert("HEAD") }
            let path = Self.samplePath(pattern, prefix: box.prefix)
            let response = box.call("PATCH", path)
            #expect(response.status == 405, "PATCH \(path)")
            #expect(response.problemType == "/problems/method-not-allowed")
            #expect(response.headers["Allow"] == allowed.sorted().joined(separator: ", "), "PATCH \(path)")
            #expect(response.json["allow"]?.array?.compactMap(\.string) == allowed.sorted())
        }
    }

    @Test(arguments: [
        ("GET", "/api/v1/nope"), ("GET", "/api/v2/sections"), ("POST", "/api/v1/sections/a/b/c"),
        ("GET", "/api/v1/sections/a/views/v1/data/more"), ("DELETE", "/api/v1/sections/a/lock/l1/x"),
        ("GET", "/static"), ("GET", "/metrics/"),
    ])
    func unknownRouteIs404Problem(method: String, path: String) throws {
        let box = try APIHarness()
        defer { box.close() }
        let response = box.call(method, path)
        #expect(response.status == 404)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(response.problemType == "/problems/not-found")
        #expect(response.json["status"]?.int == 404)
        #expect(response.json["title"]?.string?.isEmpty == false)
    }

    @Test func unknownRouteWithAForeignHostIsRefusedFirst() throws {
        let box = try APIHarness()
        defer { box.close() }
        // A rebinding page must not learn which paths exist.
        let unknown = box.call("GET", "/api/v1/nope", host: "evil.example")
        let known = box.call("GET", "/api/v1/sections", host: "evil.example")
        #expect(unknown.status == 403)
        #expect(known.status == 403)
        #expect(unknown.text == known.text)
        #expect(unknown.problemType == "/problems/forbidden")
    }

    @Test func headRunsTheGetRoute() throws {
        let box = try APIHarness()
        defer { box.close() }
        let response = box.call("HEAD", "/healthz", token: nil)
        #expect(response.status == 200)
        #expect(response.routePattern == "/healthz")
    }

    @Test func responsesCarryTheirRoutePattern() throws {
        let box = try APIHarness()
        defer { box.close() }
        let response = box.call("GET", "/api/v1/sections/\(box.prefix)x/views")
        #expect(response.routePattern == "/api/v1/sections/{name}/views")
        #expect(response.status == 404)
    }
}
