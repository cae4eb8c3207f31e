import HTTPServer
import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// Who may call a route: `public` (healthz, dashboard files), `read` (metadata), `admin`
/// (every mutation and every byte of section data).
enum AccessLevel: String, Sendable {
    case `public`, read, admin
}

/// Tokens and the exposure rules of API.md "Auth and exposure".
struct Security: Sendable {
    var adminToken: String
    var readToken: String?
    /// Bound to a loopback address (or a Unix socket): the Host header must name this host.
    var loopbackBind: Bool

    /// nil when the request may proceed at `level`, else the problem to answer.
    func check(_ request: HTTPRequest, level: AccessLevel) -> ProblemDetails? {
        // RFC 9112 §3.2: more than one Host is a bad request; the check must not read one and let the other pass.
        if request.headers.values(for: "Host").count > 1 {
            return Problems.badRequest("the request has more than one Host header")
        }
        if loopbackBind, let problem = hostProblem(request) { return problem }
        if level == .public { return nil }
        let presented = bearerToken(request)
        if level == .read && readToken == nil { return nil }
        guard let token = presented else {
            return Problems.unauthorized("this endpoint needs a token: send 'Authorization: Bearer TOKEN'")
        }
        let isAdmin = Self.constantTimeEqual(token, adminToken)
        let isReader = readToken.map { Self.constantTimeEqual(token, $0) } ?? false
        switch level {
        case .public: return nil
        case .read: return isAdmin || isReader ? nil : Problems.unauthorized("the token is not valid")
        case .admin:
            if isAdmin { return nil }
            return isReader
                ? Problems.forbidden("the read token cannot do this: it needs the admin token")
                : Problems.unauthorized("the token is not valid")
        }
    }

    /// DNS rebinding: on a loopback bind only loopback names and addresses may be the Host.
    private func hostProblem(_ request: HTTPRequest) -> ProblemDetails? {
        guard let host = request.headers["Host"], !host.isEmpty else {
            return request.remoteAddress == "unix" ? nil : Problems.badRequest("the request has no Host header")
        }
        let name = Self.hostName(host)?.lowercased() ?? ""
        if name == "localhost" || name.hasSuffix(".localhost") || name == "::1" || name == "[::1]" { return nil }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets[0] == "127", octets.allSatisfy({ UInt8($0) != nil }) { return nil }
        return Problems.forbidden(
            "the Host '\(host.prefix(100))' is not a loopback name; this server answers only to localhost")
    }

    /// The host of a Host value (`name`, `name:port`, `[v6]`, `[v6]:port`); nil when anything but a
    /// numeric port follows it: `localhost:80@evil.example` names no loopback host.
    static func hostName(_ host: String) -> String? {
        let name: Substring
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            name = host[...close]
        } else {
            name = host.prefix { $0 != ":" }
        }
        let rest = host[name.endIndex...]
        guard rest.isEmpty || (rest.first == ":" && rest.count <= 6 && rest.dropFirst().allSatisfy(\.isASCIIDigit))
        else { return nil }
        return String(name)
    }

    private func bearerToken(_ request: HTTPRequest) -> String? {
        guard let header = request.headers["Authorization"] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: " \t")
    }

    /// Compares without an early exit, so the time taken does not tell how much of a guess was right.
    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.utf8)
        let b = Array(rhs.utf8)
        // Not the XOR of the counts truncated to 8 bits: lengths 256 apart would look equal.
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    /// The admin token from `path`, or one made at first start (32 random bytes in hex, mode 0600).
    static func loadOrCreateToken(at path: String, create: Bool) throws -> String {
        if let bytes = readSmallFile(path) {
            let token = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " \t\r\n")
            guard token.utf8.count >= 16 else { throw SetupError("the token in \(path) is shorter than 16 characters") }
            return token
        }
        guard create else { throw SetupError("cannot read the token file \(path)") }
        var token = ""
        for _ in 0..<32 { token += String(format2: UInt8.random(in: 0...255)) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SetupError("cannot create the token file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array((token + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw SetupError("cannot write the token file \(path)")
        }
        return token
    }
}

struct SetupError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    /// Two lowercase hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
