#if canImport(Glibc)
    import Glibc
#endif

/// Why the HTTP server (or one of its helpers) could not do what was asked.
///
/// `description` is meant for operators: what failed, the system call, and the errno text, e.g.
/// `cannot listen on 127.0.0.1:8080: bind: Address already in use (errno 98)`.
public struct HTTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, for code that reacts to it.
    public enum Code: Sendable, Equatable {
        /// The configuration cannot work (bad address, bad limit, missing TLS half).
        case invalidConfiguration
        /// A system call failed; see `errno` and `systemCall`.
        case system
        /// The listening socket could not be set up (address in use, permission, path).
        case bind
        /// TLS was asked for but this libmicrohttpd has no TLS support.
        case tlsUnsupported
        /// libmicrohttpd refused to start (its own message is in `message`).
        case daemonStart
        /// `start()` on a server that is already running or was stopped.
        case wrongState
    }

    public var code: Code
    /// What failed, in words.
    public var message: String
    /// The errno of the failed system call, when there is one.
    public var errno: Int32?
    /// The failed system call's name, when there is one.
    public var systemCall: String?

    public init(_ code: Code, _ message: String, errno: Int32? = nil, systemCall: String? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
        self.systemCall = systemCall
    }

    /// Captures the current `errno` for the failed `call`.
    init(_ code: Code, _ message: String, call: String) {
        self.init(code, message, errno: Glibc.errno, systemCall: call)
    }

    public var description: String {
        guard let errno else { return message }
        let text = String(cString: strerror(errno))
        return "\(message): \(systemCall ?? "system call"): \(text) (errno \(errno))"
    }
}
