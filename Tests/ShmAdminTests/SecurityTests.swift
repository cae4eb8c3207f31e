import HTTPServer
import Testing

@testable import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// API.md "Auth and exposure": the Host check on a loopback bind, the three levels, the tokens.
@Suite struct SecurityTests {
    static let admin = APIHarness.adminToken
    static let reader = APIHarness.readToken

    static func request(host: String? = "127.0.0.1:8080", authorization: String? = nil, remote: String = "127.0.0.1")
        -> HTTPRequest
    {
        var headers: [(String, String)] = []
        if let host { headers.append(("Host", host)) }
        if let authorization { headers.append(("Authorization", authorization)) }
        return HTTPRequest(method: "GET", path: "/x", headers: HTTPHeaders(headers), remoteAddress: remote)
    }

    static func security(readToken: String? = nil, loopback: Bool = true) -> Security {
        Security(adminToken: admin, readToken: readToken, loopbackBind: loopback)
    }

    @Test(arguments: [
        "localhost", "localhost:8080", "LOCALHOST:80", "127.0.0.1", "127.0.0.1:1", "127.1.2.3:65535", "[::1]",
        "[::1]:80", "dashboard.localhost:3000", "Dashboard.LocalHost", "127.000.0.1", "127.255.255.255:8080",
    ])
    func loopbackHostsAreAccepted(host: String) {
        for level in [AccessLevel.public, .read] {
            #expect(Self.security().check(Self.request(host: host), level: level) == nil, "\(host) at \(level)")
        }
    }

    @Test(arguments: [
        "evil.example", "evil.example:8080", "127.0.0.1.evil.com", "127.0.0.1.evil.com:8080", "localhost.evil.com",
        "evil-localhost", "127.0.0.256", "127.0.0", "127.0.0.1.", "0x7f.0.0.1", "128.0.0.1", "10.0.0.1:8080",
        "[::2]:80", "[::ffff:8.8.8.8]", "::1", "0.0.0.0", "0127.0.0.1", "127.+1.0.1", "127..0.1", "127.0.0.1.2",
        "localhost.", "xlocalhost", "LOCALHOST.evil", "127.0.0.1:80@evil.example", "127.0.0.1:1234567", "127.0.0.-1",
    ])
    func otherHostsAreForbidden(host: String) {
        for level in [AccessLevel.public, .read, .admin] {
            let problem = Self.security().check(
                Self.request(host: host, authorization: "Bearer \(Self.admin)"), level: level)
            #expect(problem?.status == 403, "\(host) at \(level)")
            #expect(problem?.type == "/problems/forbidden")
        }
    }

    /// A route's own check after the router's middleware checked the Host: only the token is looked
    /// at again (the Host is read once per request).
    @Test func aRouteCheckAfterTheMiddlewareLooksAtTheTokenOnly() {
        let evil = Self.request(host: "evil.example", authorization: "Bearer \(Self.admin)")
        #expect(Self.security().check(evil, level: .admin)?.status == 403)
        #expect(Self.security().check(evil, level: .admin, hostChecked: true) == nil)
        let noToken = Self.request(host: "evil.example")
        #expect(Self.security().check(noToken, level: .admin, hostChecked: true)?.status == 401)
    }

    /// RFC 9112 §3.2: a request without a (usable) Host is a bad request; it is refused either way.
    @Test(arguments: [nil, ""] as [String?])
    func missingOrEmptyHostIsRefused(host: String?) {
        let problem = Self.security().check(Self.request(host: host), level: .public)
        #expect(problem?.status == 400)
        // A Unix-socket client has no host name to send.
        #expect(Self.security().check(Self.request(host: host, remote: "unix"), level: .public) == nil)
    }

    @Test func aNonLoopbackBindDoesNotCheckTheHost() {
        #expect(
            Self.security(readToken: Self.reader, loopback: false).check(
                Self.request(host: "shm.example.org", authorization: "Bearer \(Self.reader)"), level: .read) == nil)
    }

    @Test func readIsOpenWithoutAReadToken() {
        let open = Self.security()
        #expect(open.check(Self.request(), level: .read) == nil)
        #expect(open.check(Self.request(authorization: "Bearer wrong-token-value"), level: .read) == nil)
        #expect(open.check(Self.request(), level: .public) == nil)
        #expect(open.check(Self.request(), level: .admin)?.status == 401)
    }

    /// (authorization header, level, expected status or nil for allowed) with a read token configured.
    @Test(
        arguments: [
            (nil, AccessLevel.public, nil), (nil, .read, 401), (nil, .admin, 401),
            ("Bearer \(reader)", .read, nil), ("Bearer \(reader)", .admin, 403),
            ("Bearer \(admin)", .read, nil), ("Bearer \(admin)", .admin, nil),
            ("bearer \(admin)", .admin, nil), ("BEARER  \(admin) ", .admin, nil),
            ("Bearer wrong-token-0123456789", .read, 401), ("Bearer wrong-token-0123456789", .admin, 401),
            ("Bearer \(admin)x", .admin, 401), ("Bearer \(admin.dropLast())", .admin, 401),
            ("Basic \(admin)", .admin, 401), ("Bearer", .read, 401), ("Bearer ", .admin, 401), (admin, .admin, 401),
            ("Bearer \(reader) \(admin)", .admin, 401),
        ] as [(String?, AccessLevel, Int?)])
    func tokensAndLevels(authorization: String?, level: AccessLevel, status: Int?) {
        let problem = Self.security(readToken: Self.reader).check(
            Self.request(authorization: authorization), level: level)
        #expect(problem?.status == status, "\(authorization ?? "no token") at \(level)")
        if status == 401 { #expect(problem?.type == "/problems/unauthorized") }
        if status == 403 { #expect(problem?.type == "/problems/forbidden") }
    }

    @Test func throughTheRouter401CarriesWWWAuthenticateAnd403DoesNot() throws {
        let box = try APIHarness(readToken: Self.reader)
        defer { box.close() }
        let missing = box.call("GET", "/api/v1/sections", token: nil)
        #expect(missing.status == 401)
        #expect(missing.headers["WWW-Authenticate"]?.hasPrefix("Bearer") == true)
        #expect(missing.headers["Content-Type"] == "application/problem+json")
        let wrong = box.call("POST", "/api/v1/sections", json: "{}", token: "wrong-token-0123456789")
        #expect(wrong.status == 401)
        #expect(wrong.headers["WWW-Authenticate"]?.hasPrefix("Bearer") == true)
        let readOnAdmin = box.call("DELETE", "/api/v1/sections/\(box.name("x"))", token: Self.reader)
        #expect(readOnAdmin.status == 403)
        #expect(readOnAdmin.headers["WWW-Authenticate"] == nil)
        #expect(box.call("GET", "/api/v1/sections", query: [("q", box.prefix)], token: Self.reader).status == 200)
        #expect(box.call("GET", "/healthz", token: nil).status == 200)
        #expect(box.call("GET", "/api/v1/sections/\(box.name("x"))/data", token: Self.reader).status == 403)
    }

    @Test(arguments: [
        ("", "", true), ("a", "a", true), ("abc", "abc", true), ("a", "b", false), ("abc", "abd", false),
        ("abc", "ab", false), ("ab", "abc", false), ("", "a", false), ("a", "", false), ("é", "e\u{301}", false),
        (admin, admin, true), (admin, reader, false),
        // Lengths that differ by a multiple of 256 must still differ.
        ("abc", "abc" + String(repeating: "\u{0}", count: 256), false),
        ("", String(repeating: "\u{0}", count: 512), false),
        (String(repeating: "x", count: 300), String(repeating: "x", count: 44), false),
    ])
    func constantTimeEqual(lhs: String, rhs: String, equal: Bool) {
        #expect(Security.constantTimeEqual(lhs, rhs) == equal)
        #expect(Security.constantTimeEqual(rhs, lhs) == equal)
    }

    @Test func hostNameStripsThePort() {
        #expect(Security.hostName("localhost:8080") == "localhost")
        #expect(Security.hostName("[::1]:80") == "[::1]")
        #expect(Security.hostName("127.0.0.1") == "127.0.0.1")
    }

    @Test func aGeneratedAdminTokenIs64HexCharactersInAMode0600File() throws {
        let path = "/tmp/t-api-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-token"
        defer { unlink(path) }
        let token = try Security.loadOrCreateToken(at: path, create: true)
        #expect(token.count == 64)
        #expect(token.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(fileStatus(path).map { $0.st_mode & 0o777 } == 0o600)
        #expect(try Security.loadOrCreateToken(at: path, create: false) == token)
        #expect(throws: SetupError.self) { try Security.loadOrCreateToken(at: path + "-absent", create: false) }
    }
}
