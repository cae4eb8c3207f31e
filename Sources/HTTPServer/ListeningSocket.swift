#if canImport(Glibc)
    import Glibc
#endif

/// Creates the listening socket ourselves, so `start()` reports the exact errno of `bind`/`listen`
/// and the port the kernel chose; libmicrohttpd receives it through `MHD_OPTION_LISTEN_SOCKET`.
enum ListeningSocket {
    /// A bound, listening, non-blocking, close-on-exec socket, the port it got (0 for Unix sockets) and
    /// where it listens (`.tcp` with the real port, or `.unix`).
    static func open(_ endpoint: HTTPServerConfiguration.Endpoint) throws(HTTPServerError) -> (
        fd: Int32, port: UInt16, address: HTTPServerConfiguration.Endpoint
    ) {
        switch endpoint {
        case .tcp(let host, let port):
            let (fd, bound) = try openTCP(host: host, port: port)
            return (fd, bound, .tcp(host: host, port: bound))
        case .unix(let path): return (try openUnix(path: path), 0, endpoint)
        case .inherited(let fd): return try adopt(fd)
        }
    }

    /// Takes over a socket the service manager bound and listens on: checks that it is a listening
    /// stream socket, makes it non-blocking and close-on-exec (a socket from systemd is neither).
    private static func adopt(_ fd: Int32) throws(HTTPServerError) -> (
        fd: Int32, port: UInt16, address: HTTPServerConfiguration.Endpoint
    ) {
        let address = try address(of: fd)
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0, fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else {
            throw HTTPServerError(.bind, "cannot make the inherited socket fd:\(fd) non-blocking", call: "fcntl")
        }
        if case .tcp(_, let port) = address { return (fd, port, address) }
        return (fd, 0, address)
    }

    /// Where the listening stream socket `fd` listens, from `getsockname`.
    static func address(of fd: Int32) throws(HTTPServerError) -> HTTPServerConfiguration.Endpoint {
        func option(_ name: Int32) -> Int32? {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
        }
        guard option(SO_TYPE) == Int32(SOCK_STREAM.rawValue), option(SO_ACCEPTCONN) == 1 else {
            throw HTTPServerError(.invalidConfiguration, "fd:\(fd) is not a listening stream socket")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else {
            throw HTTPServerError(.bind, "cannot read the address of fd:\(fd)", call: "getsockname")
        }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: storage) { raw in
                var address = raw.load(as: sockaddr_in.self)
                var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
                return .tcp(host: cText(text), port: UInt16(bigEndian: address.sin_port))
            }
        case AF_INET6:
            return withUnsafeBytes(of: storage) { raw in
                var address = raw.load(as: sockaddr_in6.self)
                var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                inet_ntop(AF_INET6, &address.sin6_addr, &text, socklen_t(text.count))
                return .tcp(host: cText(text), port: UInt16(bigEndian: address.sin6_port))
            }
        case AF_UNIX:
            return withUnsafeBytes(of: storage) { raw in
                let address = raw.load(as: sockaddr_un.self)
                let path = withUnsafeBytes(of: address.sun_path) {
                    String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
                }
                return .unix(path: path)
            }
        default:
            throw HTTPServerError(.invalidConfiguration, "fd:\(fd) is neither an IP nor a Unix socket")
        }
    }

    /// The text of a NUL-terminated C buffer.
    private static func cText(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func openTCP(host: String, port: UInt16) throws(HTTPServerError) -> (fd: Int32, port: UInt16) {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        let family: Int32
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            family = AF_INET
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            family = AF_INET6
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
        } else {
            throw HTTPServerError(.invalidConfiguration, "not an IPv4 or IPv6 address: \(host)")
        }
        let where_ = HTTPServerConfiguration.Endpoint.tcp(host: host, port: port).description
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError(.bind, "cannot listen on \(where_)", call: "socket") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 {
            _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound =
            family == AF_INET
            ? withUnsafePointer(to: &v4) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            : withUnsafePointer(to: &v6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        guard bound == 0 else { throw failure(fd, "cannot listen on \(where_)", call: "bind") }
        try finishListening(fd, where_)
        var storage = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw failure(fd, "cannot read the bound port of \(where_)", call: "getsockname") }
        // sin_port and sin6_port sit at the same offset.
        return (fd, UInt16(bigEndian: storage.sin6_port))
    }

    private static func openUnix(path: String) throws(HTTPServerError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !path.isEmpty, path.utf8.count < capacity else {
            throw HTTPServerError(
                .invalidConfiguration, "Unix socket path is empty or longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        try removeStaleSocket(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError(.bind, "cannot listen on unix:\(path)", call: "socket") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw failure(fd, "cannot listen on unix:\(path)", call: "bind") }
        // Nobody can connect before listen(), so tightening the mode here leaves no window.
        guard chmod(path, 0o600) == 0 else {
            let error = failure(fd, "cannot restrict unix:\(path) to mode 0600", call: "chmod")
            unlink(path)
            throw error
        }
        do {
            try finishListening(fd, "unix:\(path)")
        } catch {
            unlink(path)
            throw error
        }
        return fd
    }

    /// Removes a socket file left by an earlier run; refuses to remove anything that is not a socket.
    private static func removeStaleSocket(_ path: String) throws(HTTPServerError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw HTTPServerError(.bind, "cannot listen on unix:\(path): the path exists and is not a socket")
        }
        guard unlink(path) == 0 else {
            throw HTTPServerError(.bind, "cannot remove the stale socket unix:\(path)", call: "unlink")
        }
    }

    private static func finishListening(_ fd: Int32, _ where_: String) throws(HTTPServerError) {
        guard listen(fd, 128) == 0 else { throw failure(fd, "cannot listen on \(where_)", call: "listen") }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw failure(fd, "cannot make \(where_) non-blocking", call: "fcntl")
        }
    }

    /// Captures errno, then closes `fd`.
    private static func failure(_ fd: Int32, _ message: String, call: String) -> HTTPServerError {
        let error = HTTPServerError(.bind, message, call: call)
        close(fd)
        return error
    }
}
