import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The two parts of systemd's service protocol `serve` speaks, written out rather than linked from
/// libsystemd: each is a few lines (an environment check; one datagram), and libsystemd would add a
/// shared library — with its own dependencies — to a binary meant to stand alone.
enum Systemd {
    /// The listening socket systemd passed (socket activation, sd_listen_fds(3)): fd 3 when `LISTEN_PID`
    /// is this process and `LISTEN_FDS` is 1; nil when nothing was passed. The variables are removed
    /// so that nothing this process starts takes them for its own. More than one socket is refused.
    static func takeListeningSocket() throws(SystemdError) -> FileDescriptor? {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pid = environment("LISTEN_PID"), let count = environment("LISTEN_FDS") else { return nil }
        guard Int32(pid) == getpid() else { return nil }  // meant for another process
        guard let number = Int(count), number >= 1 else { return nil }
        guard number == 1 else {
            throw SystemdError(
                "systemd passed \(number) sockets (LISTEN_FDS); shm-admin serves one: give its socket unit one Listen line"
            )
        }
        return FileDescriptor(rawValue: 3)  // SD_LISTEN_FDS_START
    }

    /// Sends a state change (`READY=1`, `STOPPING=1`, `STATUS=…`) to the service manager when it asked
    /// for them (`NOTIFY_SOCKET`, sd_notify(3)): one datagram to a Unix socket, a path or an abstract
    /// name (`@…`). Returns false when nobody asked or the message could not be sent.
    @discardableResult
    static func notify(_ state: String) -> Bool {
        guard let target = environment("NOTIFY_SOCKET"), target.hasPrefix("/") || target.hasPrefix("@") else {
            return false
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(target.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
            if path.first == UInt8(ascii: "@") { raw[0] = 0 }  // an abstract name
        }
        // A path is NUL-terminated; an abstract name is exactly as long as it is.
        let length = MemoryLayout<sa_family_t>.size + path.count + (path.first == UInt8(ascii: "@") ? 0 : 1)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, message, message.count, Int32(MSG_NOSIGNAL), $0, socklen_t(length))
            }
        }
        return sent == message.count
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

struct SystemdError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}
