import ArgumentParser
import ShmAdmin

/// `shm-admin doctor`: what is about to hurt (`GET /api/v1/doctor`), worst first, each finding
/// with its fix; the exit status says how bad (0: nothing above info, 1: warnings, 2: critical).
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the host's shared memory: findings worst first, each with its fix.",
        discussion: """
            Exit status: 0 when no finding is above info, 1 when the worst is a warning, 2 when one is critical. \
            -J prints GET /api/v1/doctor's answer. Local mode reads the host once: the two checks that need a \
            running server's memory (orphans rising over the last hour, objects deleted while mapped) come only \
            from a server (--url).
            """)

    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var table: TableOptions

    @Option(
        help:
            "Local mode: the host's root, where etc/systemd/logind.conf and etc/login.defs are read (serve's --root-dir)."
    )
    var rootDir = "/"

    @Option(help: "Local mode: how long an object must be idle to count as an orphan (serve's --grace).")
    var grace = "10m"

    func validate() throws {
        guard DurationText.seconds(grace) != nil else {
            throw ValidationError("--grace must be a duration such as 90s, 10m or 24h")
        }
    }

    func run() throws {
        Terminal.ignoreBrokenPipe()
        if table.listColumns { return Terminal.out(DoctorColumns.shape.columnList) }
        let answer: [UInt8]
        do throws(Problem) {
            answer = try hostOptions.host(wholeHost: true).doctor(
                rootDirectory: rootDir, graceSeconds: DurationText.seconds(grace) ?? 600)
        } catch {
            Terminal.error(error.line)
            throw ExitCode(1)
        }
        guard let document = Document.parse(answer) else {
            Terminal.error("Bad answer: the doctor's report is not JSON")
            throw ExitCode(1)
        }
        if table.json {
            Terminal.out(answer + [10])
        } else {
            let findings = document["findings"].array
            Terminal.out(usage { () throws(ValidationError) in try table.render(findings, DoctorColumns.shape) })
        }
        let summary = document["summary"]
        let status: Int32 = (summary["critical"].int ?? 0) > 0 ? 2 : (summary["warning"].int ?? 0) > 0 ? 1 : 0
        if status != 0 { throw ExitCode(status) }
    }
}
