/// Where and how an `HTTPServer` listens, and its limits.
public struct HTTPServerConfiguration: Sendable {
    /// The listening endpoint.
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// An IPv4 or IPv6 address literal (`"127.0.0.1"`, `"::1"`, `"0.0.0.0"`) and a port;
        /// port 0 picks a free port (see `HTTPServer.port`).
        case tcp(host: String, port: UInt16)
        /// A Unix stream socket at `path` (mode 0600; a stale socket file there is replaced).
        case unix(path: String)
        /// A stream socket already bound and listening, handed over by the service manager (systemd's
        /// socket activation, `LISTEN_FDS`). The server takes it over; it never unlinks a Unix socket's path.
        case inherited(descriptor: Int32)

        public var description: String {
            switch self {
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unix(let path): "unix:\(path)"
            case .inherited(let descriptor): "fd:\(descriptor)"
            }
        }

        /// Where a listening stream socket listens (`.tcp` or `.unix`, read with `getsockname`); nil
        /// when `descriptor` is not a listening stream socket of those families.
        public static func listening(on descriptor: Int32) -> Endpoint? {
            try? ListeningSocket.address(of: descriptor)
        }
    }

    /// A PEM certificate (chain) and its PEM private key, as text.
    public struct TLS: Sendable, Hashable {
        public var certificatePEM: String
        public var privateKeyPEM: String

        public init(certificatePEM: String, privateKeyPEM: String) {
            self.certificatePEM = certificatePEM
            self.privateKeyPEM = privateKeyPEM
        }
    }

    public var endpoint: Endpoint
    /// Serve HTTPS when set.
    public var tls: TLS?
    /// Worker threads; each serves many connections (poll).
    public var threadPoolSize: Int = 4
    /// Most simultaneous connections.
    public var connectionLimit: Int = 256
    /// Most simultaneous connections from one IP address.
    public var perIPConnectionLimit: Int = 64
    /// Seconds of inactivity after which a connection is closed (0: never).
    public var connectionTimeoutSeconds: Int = 30
    /// Largest accepted request body; a larger one gets a 413 problem and is not buffered. With a
    /// `Content-Length` the 413 comes before the body is read (and the connection closes); a chunked body
    /// is read and discarded to its end first, and cut off (connection closed, no answer) past
    /// max(2 × limit, 1 MiB) (libmicrohttpd 0.9.75 cannot answer in the middle of a body).
    public var maxBodyBytes: Int = 16 << 20
    /// How long `stop()` waits for requests in flight before closing everything.
    public var shutdownGracePeriod: Duration = .seconds(5)
    /// Log one line per finished request at `info` level.
    public var accessLog: Bool = true

    public init(endpoint: Endpoint, tls: TLS? = nil) {
        self.endpoint = endpoint
        self.tls = tls
    }

    /// Loopback on a free port: what tests want.
    public static func loopback(port: UInt16 = 0) -> HTTPServerConfiguration {
        HTTPServerConfiguration(endpoint: .tcp(host: "127.0.0.1", port: port))
    }
}
