import HTTPServer
import SectionRegistry
import SystemPackage

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

    /// nil when the request may proceed at `level`, else the problem to answer. `hostChecked`: the
    /// router's middleware, which sees every request first, has checked the Host header already.
    func check(_ request: HTTPRequest, level: AccessLevel, hostChecked: Bool = false) -> ProblemDetails? {
        if !hostChecked {
            // RFC 9112 §3.2: more than one Host is a bad request; the check must not read one and let the other pass.
            if request.headers.count(of: "Host") > 1 {
                return Problems.badRequest("the request has more than one Host header")
            }
            if loopbackBind, let problem = hostProblem(request) { return problem }
        }
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
        if let name = Self.hostName(host), Self.isLoopbackName(name) { return nil }
        return Problems.forbidden(
            "the Host '\(host.prefix(100))' is not a loopback name; this server answers only to localhost")
    }

    /// `localhost`, `*.localhost` (any case), `::1` or `[::1]`, or a dotted IPv4 address in 127/8.
    /// Byte by byte over the name's own storage, without lowercased copies or splits: this runs for every
    /// request.
    static func isLoopbackName(_ name: Substring) -> Bool {
        name.utf8.withContiguousStorageIfAvailable(isLoopbackName)
            ?? Array(name.utf8).withUnsafeBufferPointer(isLoopbackName)
    }

    private static func isLoopbackName(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if bytes.elementsEqual("::1".utf8) || bytes.elementsEqual("[::1]".utf8) { return true }
        let localhost: StaticString = "localhost"
        let length = localhost.utf8CodeUnitCount
        if bytes.count >= length {
            let tail = bytes.count - length
            var matches = true
            for index in 0..<length where bytes[tail + index] | 0x20 != localhost.utf8Start[index] { matches = false }
            if matches && (tail == 0 || bytes[tail - 1] == UInt8(ascii: ".")) { return true }
        }
        // Four decimal octets (each 0...255), the first written `127`.
        guard bytes.starts(with: "127.".utf8) else { return false }
        var octets = 0
        var value = -1
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard value >= 0, octets < 3 else { return false }
                octets += 1
                value = -1
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                value = max(value, 0) * 10 + Int(byte - UInt8(ascii: "0"))
                if value > 255 { return false }
            } else {
                return false
            }
        }
        return octets == 3 && value >= 0
    }

    /// The host of a Host value (`name`, `name:port`, `[v6]`, `[v6]:port`); nil when anything but a
    /// numeric port follows it: `localhost:80@evil.example` names no loopback host. Found over the
    /// value's bytes (this runs for every request).
    static func hostName(_ host: String) -> Substring? {
        var host = host
        host.makeContiguousUTF8()
        let found = host.utf8.withContiguousStorageIfAvailable { bytes -> Int? in
            let end: Int
            if bytes.first == UInt8(ascii: "[") {
                guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
                end = close + 1
            } else {
                end = bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.count
            }
            let rest = bytes[end...]
            let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
            guard
                rest.isEmpty
                    || (rest.first == UInt8(ascii: ":") && rest.count <= 6 && rest.dropFirst().allSatisfy(isDigit))
            else { return nil }
            return end
        }
        guard let found, let end = found else { return nil }
        return host[..<host.utf8.index(host.utf8.startIndex, offsetBy: end)]
    }

    /// The token of `Authorization: Bearer TOKEN` (scheme in any case, blanks around the token dropped),
    /// found over the header's bytes (this runs for every request).
    private func bearerToken(_ request: HTTPRequest) -> Substring? {
        guard var header = request.headers["Authorization"] else { return nil }
        header.makeContiguousUTF8()
        let found = header.utf8.withContiguousStorageIfAvailable { bytes -> Range<Int>? in
            let scheme: StaticString = "bearer"
            guard let space = bytes.firstIndex(of: UInt8(ascii: " ")), space == scheme.utf8CodeUnitCount else {
                return nil
            }
            for index in 0..<space where bytes[index] | 0x20 != scheme.utf8Start[index] { return nil }
            let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
            var start = space + 1
            var end = bytes.count
            while start < end && isBlank(bytes[start]) { start += 1 }
            while end > start && isBlank(bytes[end - 1]) { end -= 1 }
            return start..<end
        }
        guard let found, let range = found else { return nil }
        let utf8 = header.utf8
        return header[
            utf8.index(
                utf8.startIndex, offsetBy: range.lowerBound)..<utf8.index(
                    utf8.startIndex, offsetBy: range.upperBound)]
    }

    /// Compares without an early exit, so the time taken does not tell how much of a guess was right.
    static func constantTimeEqual(_ lhs: some StringProtocol, _ rhs: some StringProtocol) -> Bool {
        // Not the XOR of the counts truncated to 8 bits: lengths 256 apart would look equal.
        var difference: UInt8 = lhs.utf8.count == rhs.utf8.count ? 0 : 1
        // Native strings: over their bytes, as many steps as the longer one has (the token check of
        // every request; the iterators below cost about 20 instructions a byte).
        let contiguous = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right in
                var sum = difference
                for index in 0..<max(left.count, right.count) {
                    sum |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
                }
                return sum == 0
            }
        }
        if let contiguous, let equal = contiguous { return equal }
        var left = lhs.utf8.makeIterator()
        var right = rhs.utf8.makeIterator()
        while true {
            let (a, b) = (left.next(), right.next())
            if a == nil && b == nil { break }
            difference |= (a ?? 0) ^ (b ?? 0)
        }
        return difference == 0
    }

    /// The admin token from `path`, or one made at first start (32 random bytes in hex, mode 0600).
    static func loadOrCreateToken(at path: String, create: Bool) throws -> String {
        try checkTokenFileMode(path)
        if let bytes = readWholeFile(path) {
            let token = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " \t\r\n")
            guard token.utf8.count >= 16 else { throw SetupError("the token in \(path) is shorter than 16 characters") }
            return token
        }
        guard create else { throw SetupError("cannot read the token file \(path)") }
        var token = ""
        for _ in 0..<32 { token += String(format2: UInt8.random(in: 0...255)) }
        do {
            let file = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec],
                permissions: [.ownerReadWrite])
            try file.closeAfter {
                _ = try file.writeAll((token + "\n").utf8)
                if fsync(file.rawValue) != 0 { throw SetupError("fsync failed") }
            }
        } catch {
            throw SetupError("cannot create the token file \(path): \(error)")
        }
        return token
    }
}

extension Security {
    /// Refuses a token file that others may read or change, as ssh refuses a loose private key: any
    /// permission for group or others, or an owner other than this user or root. A missing file passes
    /// (it is created 0600 or reported as unreadable).
    static func checkTokenFileMode(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        let mode = info.st_mode & 0o7777
        if mode & 0o077 != 0 {
            throw SetupError(
                "the token file \(path) is accessible by group or others (mode \(String(mode, radix: 8))): "
                    + "it must be readable by its owner only; run: chmod 600 \(path)")
        }
        if info.st_uid != geteuid() && info.st_uid != 0 {
            throw SetupError(
                "the token file \(path) belongs to uid \(info.st_uid), not to this user (uid \(geteuid())) or root")
        }
    }
}

struct SetupError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}

extension String {
    /// Two lowercase hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
