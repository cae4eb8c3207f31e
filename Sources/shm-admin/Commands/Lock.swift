import ArgumentParser
import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// `shm-admin lock NAME -- COMMAND…`: runs COMMAND holding the section's whole-object lock, the one
/// the API and `fcntl.lockf` take (an OFD record lock locally, a lease remotely), like `flock(1)`.
struct Lock: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Run a command while holding a section's lock, like flock(1).",
        discussion: """
            Exit status: COMMAND's (128+N when a signal N ended it), or 1 with the holders when the lock \
            is not had within --timeout. Signals sent to shm-admin (SIGTERM, SIGINT, SIGHUP, SIGQUIT, \
            SIGUSR1, SIGUSR2) are passed on to COMMAND. Remotely the lock is a lease of at most an hour.
            """)

    @OptionGroup var hostOptions: HostOptions

    @Argument(help: "The section's name.")
    var name: String

    @Flag(help: "Take the shared lock instead of the exclusive one.")
    var shared = false

    @Option(help: "Give up after this long (250ms, 5s, 10m …; default: wait as long as it takes).")
    var timeout: String?

    @Argument(parsing: .postTerminator, help: "The command to run, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command to run after --") }
        _ = try timeout.map(parseDuration)
    }

    func run(on host: any HostAPI) throws(Problem) {
        let wait = (try? timeout.map(parseDuration)) ?? nil
        let status = try host.holdingLock(
            SectionNames.fromArgument(name), mode: shared ? .shared : .exclusive, timeout: wait ?? 1e9
        ) {
            ChildProcess.run(command)
        }
        Glibc.exit(status)
    }
}

/// COMMAND run as a child with signals passed on, its status as `flock(1)` reports it.
enum ChildProcess {
    nonisolated(unsafe) static var pid: pid_t = 0

    static let forwarded = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

    /// The exit status of `argv`, 128+N if signal N ended it, 127 (126) when it cannot be run.
    static func run(_ argv: [String]) -> Int32 {
        installForwarding()
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in forwarded { sigaddset(&defaults, number) }
        sigaddset(&defaults, SIGPIPE)  // ignored here; the command gets it back
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let arguments = argv.map { strdup($0) } + [nil]
        defer { for argument in arguments { free(argument) } }
        var child: pid_t = 0
        let failure = posix_spawnp(&child, argv[0], nil, &attributes, arguments, environ)
        if failure != 0 {
            Terminal.error("cannot run \(argv[0]): \(String(cString: strerror(failure)))")
            return failure == ENOENT ? 127 : 126
        }
        pid = child
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        pid = 0
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }

    /// Signals sent to this process (by kill, not by the terminal, which signals the whole group and
    /// so the command already) are sent on to the command.
    private static func installForwarding() {
        for number in forwarded {
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = { number, info, _ in
                guard let info, info.pointee.si_code <= 0, ChildProcess.pid > 0 else { return }
                kill(ChildProcess.pid, number)
            }
            action.sa_flags = SA_SIGINFO | SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }
}
