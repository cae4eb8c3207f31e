#if canImport(Glibc)
    import Glibc
#endif

/// Creates the listening socket ourselves, so `start()` reports the exact errno of `bind`/`listen`
/// and the port the kernel chose; libmicrohttpd receives it through `MHD_OPTION_LISTEN_SOCKET`.
enum ListeningSocket {
    /// A bound, listening, non-blocking, close-on-exec socket and the port it got (0 for Unix sockets).
    static func open(_ endpoint: HTTPServerConfiguration.Endpoint) throws(HTTPServerError) -> (fd: Int32, port: UInt16)
    {
        switch endpoint {
        case .tcp(let host, let port): try openTCP(host: host, port: port)
        case .unix(let path): (try openUnix(path: path), 0)
        }
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
