import ArgumentParser
import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// `shm-admin dump NAME`: the section's bytes as `hexdump -C` prints them, as the API's hex or
/// base64 JSON, or raw (`GET …/data`).
struct Dump: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print a section's bytes: -C as hexdump -C (default), --hex, --base64, or --raw.")

    @OptionGroup var hostOptions: HostOptions

    @Argument(help: "The section's name.")
    var name: String

    @Option(help: "First byte, in bytes.")
    var offset: Int64 = 0

    @Option(help: "How many bytes (default: to the end of the commit).")
    var length: Int64?

    @Flag(name: .customShort("C"), help: "Canonical hex+ASCII, exactly as hexdump -C prints it (the default).")
    var canonical = false

    @Flag(help: "The API's JSON rows of 16 bytes (format=hex).")
    var hex = false

    @Flag(help: "The API's base64 JSON (format=base64).")
    var base64 = false

    @Flag(help: "The bytes themselves, streamed (not to a terminal unless --force).")
    var raw = false

    @Flag(help: "Write raw bytes even to a terminal.")
    var force = false

    func validate() throws {
        guard [canonical, hex, base64, raw].filter({ $0 }).count <= 1 else {
            throw ValidationError("give at most one of -C, --hex, --base64 and --raw")
        }
    }

    func run(on host: any HostAPI) throws(Problem) {
        if raw {
            if Terminal.isTerminal && !force {
                throw Problem.local(
                    "Refused", "standard output is a terminal: redirect it, or pass --force to print raw bytes")
            }
            var failed = false
            try host.dumpRaw(SectionNames.fromArgument(name), offset: offset, length: length) { piece in
                if !Terminal.write(piece) {
                    failed = errno != EPIPE
                    return false
                }
                return true
            }
            if failed { throw Problem.local("Cannot write", String(cString: strerror(errno))) }
            return
        }
        let format: CommandLineAnswers.DumpText = hex ? .hex : base64 ? .base64 : .hexdump
        let answer = try host.dump(SectionNames.fromArgument(name), offset: offset, length: length, format: format)
        Terminal.out(format == .hexdump ? answer : answer + [10])
    }
}
