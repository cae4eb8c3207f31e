#if canImport(Glibc)
    import Glibc
#endif

/// Standard output and error for the shell subcommands: written straight with write(2), so a broken
/// pipe is seen (EPIPE, SIGPIPE ignored) and ends the command quietly, as `ls | head` does.
enum Terminal {
    /// Whether standard output is a terminal.
    static var isTerminal: Bool { isatty(1) == 1 }

    /// Colour only on a terminal and never with NO_COLOR set (https://no-color.org).
    static var colour: Bool { isTerminal && getenv("NO_COLOR") == nil }

    /// Ignore SIGPIPE: a closed reader shows as EPIPE from write.
    static func ignoreBrokenPipe() { signal(SIGPIPE, SIG_IGN) }

    /// Writes all of `bytes` to `descriptor`; false when the reader is gone (or another error).
    @discardableResult
    static func write(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32 = 1) -> Bool {
        var done = 0
        while done < bytes.count {
            let count = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return false }
            done += count
        }
        return true
    }

    /// Writes `bytes` to standard output; a reader that went away ends the command (exit 0).
    static func out(_ bytes: [UInt8]) {
        let written = bytes.withUnsafeBytes { write($0) }
        if !written { exit(errno == EPIPE ? 0 : 1) }
    }

    static func out(_ text: String) { out(Array(text.utf8)) }

    /// One line on standard error: `shm-admin: TEXT`.
    static func error(_ text: String) {
        _ = Array(("shm-admin: " + text + "\n").utf8).withUnsafeBytes { write($0, to: 2) }
    }

    /// Whether the reader of standard output has gone (a pipe whose other end closed): checked by the
    /// commands that may wait long between writes (`watch`).
    static var readerGone: Bool {
        var poller = pollfd(fd: 1, events: 0, revents: 0)
        guard poll(&poller, 1, 0) == 1 else { return false }
        return poller.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0
    }
}

/// SIGINT, SIGTERM and SIGHUP noted instead of ending the process, for the commands that stop cleanly
/// (`watch`, `dump --raw`): they check `requested` between steps.
enum Interrupt {
    nonisolated(unsafe) private static var flag: sig_atomic_t = 0

    static func install() {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number) { _ in Interrupt.flag = 1 }
        }
    }

    static var requested: Bool { flag != 0 }

    /// Asks the command to stop as a signal would (a reader that went away).
    static func stop() { flag = 1 }
}
