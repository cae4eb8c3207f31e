import ArgumentParser
import ShmAdmin

/// `shm-admin reclaim`: orphans (no holder, mapper or lock, idle past the grace period) moved into
/// their mount's quarantine, or deleted (`POST /api/v1/reclaim`). A dry run unless `--yes`.
struct Reclaim: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "reclaim",
        abstract: "Reclaim orphaned shared memory: a dry run that lists the candidates, unless --yes.",
        discussion: """
            Candidates are POSIX objects (of every mount, or --mount's) that no process holds, maps or locks, \
            idle for --older-than (default: the server's --grace, 10m locally). With --yes each is re-checked, \
            moved into its mount's quarantine (restorable with quarantine restore ID until it is purged) or, \
            with --mode delete, removed. Semaphores and --exclude matches are never touched. \
            -J prints POST /api/v1/reclaim's answer.
            """)

    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var table: TableOptions

    @Flag(help: "Only list what would be reclaimed (the default unless --yes).")
    var dryRun = false

    @Flag(help: "Reclaim for real.")
    var yes = false

    @Option(help: "Only objects idle (no change of mtime or ctime) for this long: 90s, 10m, 24h or seconds.")
    var olderThan: String?

    @Option(help: "quarantine (the default: restorable until purged) or delete.")
    var mode: String?

    @Option(help: "Never touch objects whose name matches this glob (repeatable).")
    var exclude: [String] = []

    @Option(help: "Only objects of this mount, MAJ:MIN or host (repeatable; default: every mount).")
    var mount: [String] = []

    @Option(help: "Local mode: how long an object must be idle to count as an orphan (serve's --grace).")
    var grace = "10m"

    var wholeHost: Bool { true }

    func validate() throws {
        if let olderThan, DurationText.seconds(olderThan) == nil {
            throw ValidationError("--older-than must be a duration such as 90s, 10m or 24h")
        }
        if let mode, !["quarantine", "delete"].contains(mode) {
            throw ValidationError("--mode must be quarantine or delete")
        }
        guard DurationText.seconds(grace) != nil else {
            throw ValidationError("--grace must be a duration such as 90s, 10m or 24h")
        }
    }

    func run(on host: any HostAPI) throws(Problem) {
        if table.listColumns { return Terminal.out(ReclaimColumns.shape.columnList) }
        let answer = try host.reclaim(
            ReclaimOrder(
                dryRun: dryRun || !yes, olderThan: olderThan, mode: mode, exclude: exclude,
                mounts: mount.isEmpty ? nil : mount, graceSeconds: DurationText.seconds(grace) ?? 600))
        if table.json { return Terminal.out(answer + [10]) }
        guard let report = Document.parse(answer) else { throw Problem.local("Bad answer", "the report is not JSON") }
        let dry = report["dryRun"].bool ?? true
        // A dry run lists the candidates; a reclaim what it reclaimed, then what it skipped and why.
        let rows = dry ? report["candidates"].array : report["reclaimed"].array
        Terminal.out(usage { () throws(ValidationError) in try table.render(rows, ReclaimColumns.shape) })
        let skipped = report["skipped"].array
        if !skipped.isEmpty && !table.noHeadings && !table.raw {
            var text = "\nskipped:\n"
            for skip in skipped {
                let href: String = Escape.text(skip["href"].string ?? "-")
                let reason: String = skip["reason"].string ?? "-"
                let detail: String = skip["detail"].string.map { ": " + Escape.prose($0) } ?? ""
                text += href + "  " + reason + detail + "\n"
            }
            Terminal.out(text)
        }
        if !table.noHeadings && !table.raw {
            let bytes = rows.reduce(Int64(0)) { $0 + ($1["bytes"].int ?? 0) }
            let size = Cell.bytes(bytes).rendered(bytes: table.bytes)
            Terminal.out(
                dry
                    ? "dry run: \(rows.count) objects, \(size) would be reclaimed (--yes to reclaim them)\n"
                    : "reclaimed \(rows.count) objects, \(size)\n")
        }
    }
}

/// `shm-admin quarantine [ls | restore ID | purge ID]` (`GET /api/v1/quarantine`, …).
struct QuarantineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract: "What reclaim moved aside: list it, restore an object under its name, or purge it now.",
        subcommands: [QuarantineList.self, QuarantineRestore.self, QuarantinePurge.self],
        defaultSubcommand: QuarantineList.self)
}

struct QuarantineList: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the objects in quarantine (-J: GET /api/v1/quarantine's answer).")

    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var table: TableOptions

    var wholeHost: Bool { true }

    func run(on host: any HostAPI) throws(Problem) {
        if table.listColumns { return Terminal.out(QuarantineColumns.shape.columnList) }
        let answer = try host.quarantineList()
        if table.json { return Terminal.out(answer + [10]) }
        guard let list = Document.parse(answer) else { throw Problem.local("Bad answer", "the list is not JSON") }
        Terminal.out(
            usage { () throws(ValidationError) in try table.render(list["items"].array, QuarantineColumns.shape) })
    }
}

struct QuarantineRestore: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Put an object back under its name; it is shown as show shows it.")

    @OptionGroup var hostOptions: HostOptions

    @Argument(help: "The quarantine id (the ID column of quarantine ls).")
    var id: String

    @Flag(name: [.short, .customLong("bytes")], help: "Sizes in bytes instead of binary units.")
    var bytes = false

    @Flag(name: [.customShort("J"), .customLong("json")], help: "Print the API's JSON answer as it is.")
    var json = false

    var wholeHost: Bool { true }

    func run(on host: any HostAPI) throws(Problem) {
        let answer = try host.restore(id)
        if json { return Terminal.out(answer + [10]) }
        guard let detail = Document.parse(answer) else { throw Problem.local("Bad answer", "the object is not JSON") }
        Terminal.out(DetailText.render(detail, pages: nil, bytes: bytes))
    }
}

struct QuarantinePurge: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge", abstract: "Delete an object in quarantine now (its memory is freed).")

    @OptionGroup var hostOptions: HostOptions

    @Argument(help: "The quarantine id (the ID column of quarantine ls).")
    var id: String

    var wholeHost: Bool { true }

    func run(on host: any HostAPI) throws(Problem) {
        try host.purge(id)
        Terminal.out("purged \(Escape.text(id))\n")
    }
}
