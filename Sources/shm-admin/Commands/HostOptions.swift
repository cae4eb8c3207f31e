import ArgumentParser
import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// Where a shell subcommand gets its answers (docs/CLI.md "Where it gets its answers"): this host
/// through the registry (default), or a server with `--url` / SHM_ADMIN_URL.
struct HostOptions: ParsableArguments {
    @Option(
        help:
            "Ask this server instead of the host directly: http://…, https://… or unix:PATH (default: $SHM_ADMIN_URL).")
    var url: String?

    @Option(help: "File holding the admin token for --url (default: $SHM_ADMIN_TOKEN, else STATE_DIR/admin-token).")
    var tokenFile: String?

    @Option(
        help:
            "The state directory, as serve's --state-dir (default: $XDG_STATE_HOME/shm-admin, else ~/.local/state/shm-admin)."
    )
    var stateDir: String?

    @Option(help: "The shared-memory directory of local mode, as serve's --shm-dir.")
    var shmDir = "/dev/shm"

    var stateDirectory: String { stateDir ?? ServeOptions.defaultStateDirectory() }

    var serverURL: String? { url ?? environment("SHM_ADMIN_URL") }

    /// The host to ask: a `RemoteHost` when a URL is given, else a `LocalHost` (watching the directory
    /// with inotify only when `watch` asks, since that starts a thread).
    /// `wholeHost`: the command asks about the whole host (`ls --all`, `show HREF`, `mounts`,
    /// `doctor`), so local mode makes one pass over /proc for everything it answers.
    func host(watch: Bool = false, wholeHost: Bool = false) throws(Problem) -> any HostAPI {
        if let url = serverURL, !url.isEmpty { return try RemoteHost(url: url, token: try token()) }
        ProcessVisibility.warnIfBlind()
        return try LocalHost(shmDirectory: shmDir, stateDirectory: stateDirectory, watch: watch, wholeHost: wholeHost)
    }

    /// `--token-file`, SHM_ADMIN_TOKEN, or STATE_DIR/admin-token when readable; none is fine for reads.
    func token() throws(Problem) -> String? {
        if let tokenFile {
            guard let text = Self.firstLine(of: tokenFile) else {
                throw Problem.local("Cannot read the token", "--token-file \(tokenFile) is not readable")
            }
            return text
        }
        if let token = environment("SHM_ADMIN_TOKEN"), !token.isEmpty { return token }
        return Self.firstLine(of: stateDirectory + "/admin-token")
    }

    private func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    static func firstLine(of path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let token = line.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == " " }).first.map(String.init)
        return token?.isEmpty == false ? token : nil
    }
}

/// What every shell subcommand does around its work: a refused or failed operation is one line on
/// standard error and exit 1 (usage errors are argument-parser's, exit 2).
protocol HostCommand: ParsableCommand {
    var hostOptions: HostOptions { get }
    /// Whether it asks about the whole host (API-HOST.md), not only the shared-memory directory.
    var wholeHost: Bool { get }
    func run(on host: any HostAPI) throws(Problem)
}

extension HostCommand {
    var wholeHost: Bool { false }

    func run() throws {
        Terminal.ignoreBrokenPipe()
        do throws(Problem) {
            try run(on: try hostOptions.host(wholeHost: wholeHost))
        } catch {
            Terminal.error(error.line)
            throw ExitCode(1)
        }
    }
}

/// Parses a size as the API takes it (`64MiB`, `4096`); bad text is a usage error (exit 2).
func parseSize(_ text: String, _ option: String) throws -> Int64 {
    do { return try SizeText.parse(text, field: option) } catch { throw ValidationError(error.description) }
}

/// Parses `KEY=VALUE` labels.
func parseLabels(_ items: [String]) throws -> [String: String] {
    var labels: [String: String] = [:]
    for item in items {
        guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
            throw ValidationError("--label takes KEY=VALUE (got '\(item)')")
        }
        labels[String(item[..<equals])] = String(item[item.index(after: equals)...])
    }
    return labels
}

/// Durations as docs/CLI.md takes them: `250ms`, `5s`, `10m`, `24h`, or seconds.
func parseDuration(_ text: String) throws -> Double {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        if let number = Double(text.dropLast(suffix.count)), number >= 0, number.isFinite { return number * scale }
    }
    if let number = Double(text), number >= 0, number.isFinite { return number }
    throw ValidationError("'\(text)' is not a duration: use 250ms, 5s, 10m, 24h or a number of seconds")
}
