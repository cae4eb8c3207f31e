import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Another process touching the same objects: python3 with `multiprocessing.shared_memory`,
/// `mmap` and `fcntl.lockf`. It prints `ready PID` and then answers one command per line on
/// stdin with one line (`ok …` or `err …`). Every wait is bounded; `stop()` (also run by deinit)
/// kills it if it is still there.
final class PythonPeer: @unchecked Sendable {
    let pid: Int32
    private let process: Process
    private let input: FileHandle
    private let output: Int32
    private var buffer: [UInt8] = []
    private var stopped = false

    /// The peer's commands, all on the object it opened last (`create`, `attach` or `open`).
    static let script = #"""
        import fcntl, mmap, os, sys
        from multiprocessing import resource_tracker, shared_memory

        shm = None   # a SharedMemory
        fd = None    # the descriptor locks and truncations use
        mm = None    # a plain mmap when the object was opened with `open`

        def untracked(block):
            # Python 3.11 unlinks every SharedMemory at exit, even attached ones, unless unregistered.
            resource_tracker.unregister(block._name, "shared_memory")
            return block

        def view():
            return shm.buf if shm is not None else mm

        print("ready", os.getpid(), flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            command, args = words[0], words[1:]
            try:
                if command == "create":
                    shm = untracked(shared_memory.SharedMemory(name=args[0], create=True, size=int(args[1])))
                    fd = shm._fd
                    reply = "ok %d" % shm.size
                elif command == "attach":
                    shm = untracked(shared_memory.SharedMemory(name=args[0]))
                    fd = shm._fd
                    reply = "ok %d" % shm.size
                elif command == "open":
                    fd = os.open("/dev/shm/" + args[0], os.O_RDWR)
                    mm = mmap.mmap(fd, os.fstat(fd).st_size)
                    reply = "ok %d" % len(mm)
                elif command == "openro":
                    fd = os.open("/dev/shm/" + args[0], os.O_RDONLY)
                    mm = mmap.mmap(fd, os.fstat(fd).st_size, prot=mmap.PROT_READ)
                    reply = "ok %d" % len(mm)
                elif command == "maponly":
                    # Map read-only, then close the descriptor: only the mapping keeps the file open.
                    fd = os.open("/dev/shm/" + args[0], os.O_RDONLY)
                    mm = mmap.mmap(fd, os.fstat(fd).st_size, prot=mmap.PROT_READ)
                    os.close(fd)
                    fd = None
                    reply = "ok %d" % len(mm)
                elif command == "hold":
                    # Open without mapping: a holder, not a mapper.
                    fd = os.open("/dev/shm/" + args[0], os.O_RDONLY)
                    reply = "ok"
                elif command == "read":
                    offset, length = int(args[0]), int(args[1])
                    reply = "ok " + bytes(view()[offset:offset + length]).hex()
                elif command == "write":
                    offset, data = int(args[0]), bytes.fromhex(args[1])
                    view()[offset:offset + len(data)] = data
                    reply = "ok %d" % len(data)
                elif command == "trylock":
                    kind = fcntl.LOCK_EX if args[0] == "ex" else fcntl.LOCK_SH
                    try:
                        fcntl.lockf(fd, kind | fcntl.LOCK_NB)
                        reply = "ok locked"
                    except OSError:
                        reply = "ok busy"
                elif command == "unlock":
                    fcntl.lockf(fd, fcntl.LOCK_UN)
                    reply = "ok"
                elif command == "truncate":
                    os.truncate("/dev/shm/" + args[0], int(args[1]))
                    reply = "ok"
                elif command == "flap":
                    # Truncate to 0 and back, `count` times: a view's pages come and go under the reader.
                    path, count, size = "/dev/shm/" + args[0], int(args[1]), int(args[2])
                    for _ in range(count):
                        os.truncate(path, 0)
                        os.truncate(path, size)
                    reply = "ok"
                elif command == "flood":
                    # Many directory events at once: create, close and unlink `count` objects.
                    path, count = "/dev/shm/" + args[0], int(args[1])
                    for index in range(count):
                        os.close(os.open("%s%d" % (path, index), os.O_CREAT | os.O_WRONLY, 0o600))
                        os.unlink("%s%d" % (path, index))
                    reply = "ok"
                elif command == "close":
                    if shm is not None:
                        shm.close()
                    if mm is not None:
                        mm.close()
                    if shm is None and fd is not None:
                        os.close(fd)
                    shm = mm = fd = None
                    reply = "ok"
                elif command == "unlink":
                    os.unlink("/dev/shm/" + args[0])
                    reply = "ok"
                elif command == "exit":
                    print("ok", flush=True)
                    break
                else:
                    reply = "err unknown command " + command
            except Exception as error:
                reply = "err %s: %s" % (type(error).__name__, error)
            print(reply, flush=True)
        """#

    init() throws {
        let stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", "-c", Self.script]
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = FileHandle.standardError
        try process.run()
        pid = process.processIdentifier
        input = stdinPipe.fileHandleForWriting
        output = stdoutPipe.fileHandleForReading.fileDescriptor
        let greeting = try line(timeout: 10)
        guard greeting.hasPrefix("ready ") else {
            stop()
            throw SandboxError("python peer said '\(greeting)' instead of ready")
        }
    }

    deinit { stop() }

    /// Sends one command and returns the text after `ok`; throws on `err`, EOF or timeout.
    @discardableResult
    func run(_ command: String, timeout: Double = 10) throws -> String {
        try send(command)
        return try reply(to: command, timeout: timeout)
    }

    /// Sends a command without waiting; `reply(to:timeout:)` collects the answer.
    func send(_ command: String) throws { try input.write(contentsOf: Array((command + "\n").utf8)) }

    @discardableResult
    func reply(to command: String, timeout: Double = 10) throws -> String {
        let reply = try line(timeout: timeout)
        guard reply == "ok" || reply.hasPrefix("ok ") else {
            throw SandboxError("python peer: '\(command)' → '\(reply)'")
        }
        return String(reply.dropFirst(3))
    }

    var isRunning: Bool { kill(pid, 0) == 0 && process.isRunning }

    /// Asks the peer to exit and waits for it (bounded); kills it when it does not go.
    func exit(timeout: Double = 5) {
        _ = try? run("exit", timeout: timeout)
        stop(timeout: timeout)
    }

    /// Kills the peer if it still runs and reaps it, within `timeout` seconds.
    func stop(timeout: Double = 5) {
        guard !stopped else { return }
        stopped = true
        try? input.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            let hardDeadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < hardDeadline { usleep(5_000) }
        }
    }

    /// The next line of output, waiting at most `timeout` seconds.
    private func line(timeout: Double) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let text = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return text
            }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw SandboxError("python peer: no answer within \(timeout) s") }
            var poller = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(max(1, min(remaining * 1000, 1000))))
            if ready < 0 && errno != EINTR { throw SandboxError("poll: errno \(errno)") }
            if ready <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if count == 0 { throw SandboxError("python peer closed its output") }
            if count > 0 { buffer += chunk[..<count] }
        }
    }
}

extension [UInt8] {
    var hex: String { map { String(format: "%02x", $0) }.joined() }

    init?(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            guard let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex),
                let byte = UInt8(hex[index..<next], radix: 16)
            else { return nil }
            bytes.append(byte)
            index = next
        }
        self = bytes
    }
}
