import ArgumentParser
import SectionRegistry

/// How the commands that answer with one section print it: the `ls` table of that one row, or the
/// API's JSON with -J.
struct SectionOutput: ParsableArguments {
    @OptionGroup var table: TableOptions

    func print(_ answer: [UInt8]) throws(Problem) {
        if table.json { return Terminal.out(answer + [10]) }
        guard let section = Document.parse(answer) else { throw Problem.local("Bad answer", "the section is not JSON") }
        Terminal.out(usage { () throws(ValidationError) in try table.render([section], SectionColumns.shape) })
    }
}

/// `shm-admin create NAME --reserve SIZE …`: as `POST /api/v1/sections`.
struct Create: HostCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a section, or open it if it exists (says which).",
        discussion: "As POST /api/v1/sections. Exit 0 for created or opened; 1 with --exclusive when it exists.")

    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var output: SectionOutput

    @Argument(help: "The section's name.")
    var name: String

    @Option(help: "The most it may ever grow to (bytes, or 64MiB, 1GiB …).")
    var reserve: String

    @Option(help: "The usable size now (default: the whole reserve).")
    var commit: String?

    @Flag(help: "Namespace global (mode 0666, any local user) instead of local (0600).")
    var global = false

    @Flag(help: "Fail if it exists instead of opening it.")
    var exclusive = false

    @Option(name: .customLong("label"), help: "A label KEY=VALUE (repeatable).")
    var labels: [String] = []

    func validate() throws {
        _ = try parseSize(reserve, "--reserve")
        _ = try commit.map { try parseSize($0, "--commit") }
        _ = try parseLabels(labels)
    }

    func run(on host: any HostAPI) throws(Problem) {
        let arguments = usage { () throws(ValidationError) in
            do {
                return CreateArguments(
                    name: SectionNames.fromArgument(name), reserve: try parseSize(reserve, "--reserve"),
                    commit: try commit.map { try parseSize($0, "--commit") }, namespace: global ? .global : .local,
                    exclusive: exclusive, labels: try parseLabels(labels))
            } catch { throw error as? ValidationError ?? ValidationError("\(error)") }
        }
        let answer = try host.create(arguments)
        if !output.table.json {
            let created = Document.parse(answer)?["created"].bool ?? true
            Terminal.out((created ? "created " : "opened existing ") + Escape.text(name) + "\n")
        }
        try output.print(answer)
    }
}

/// `shm-admin grow NAME (--to SIZE | --by SIZE)`: as `POST …/grow`.
struct Grow: HostCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grow a section's commit (never shrinks, never past the reserve).")

    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var output: SectionOutput

    @Argument(help: "The section's name.")
    var name: String

    @Option(help: "The new commit.")
    var to: String?

    @Option(help: "How much to add to the commit.")
    var by: String?

    func validate() throws {
        guard (to == nil) != (by == nil) else { throw ValidationError("give exactly one of --to and --by") }
        _ = try to.map { try parseSize($0, "--to") }
        _ = try by.map { try parseSize($0, "--by") }
    }

    func run(on host: any HostAPI) throws(Problem) {
        let commit = try? to.map { try parseSize($0, "--to") }
        let amount = try? by.map { try parseSize($0, "--by") }
        try output.print(try host.grow(SectionNames.fromArgument(name), to: commit ?? nil, by: amount ?? nil))
    }
}

/// `shm-admin reset NAME --offset N --length N`: as `POST …/reset`.
struct Reset: HostCommand {
    static let configuration = CommandConfiguration(
        abstract: "Discard a page-aligned range's contents and give its memory back (it reads as zeros).")

    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var output: SectionOutput

    @Argument(help: "The section's name.")
    var name: String

    @Option(help: "Start of the range (page-aligned).")
    var offset: Int64

    @Option(help: "Length of the range (page-aligned).")
    var length: Int64

    func run(on host: any HostAPI) throws(Problem) {
        try output.print(try host.reset(SectionNames.fromArgument(name), offset: offset, length: length))
    }
}

/// `shm-admin adopt NAME [--reserve SIZE] [--label K=V]…`: as `POST …/adopt`.
struct Adopt: HostCommand {
    static let configuration = CommandConfiguration(abstract: "Register a foreign section, so that it is managed.")

    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var output: SectionOutput

    @Argument(help: "The section's name.")
    var name: String

    @Option(help: "Its reserve (default: its size now).")
    var reserve: String?

    @Option(name: .customLong("label"), help: "A label KEY=VALUE (repeatable).")
    var labels: [String] = []

    func validate() throws {
        _ = try reserve.map { try parseSize($0, "--reserve") }
        _ = try parseLabels(labels)
    }

    func run(on host: any HostAPI) throws(Problem) {
        let size = try? reserve.map { try parseSize($0, "--reserve") }
        try output.print(try host.adopt(SectionNames.fromArgument(name), reserve: size ?? nil, labels: (try? parseLabels(labels)) ?? [:]))
    }
}

/// `shm-admin rm NAME [--force]`: the guarded delete of `DELETE /api/v1/sections/{name}`.
struct Rm: HostCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a managed section: refused (exit 1, naming the pids) while other processes map it.")

    @OptionGroup var hostOptions: HostOptions

    @Argument(help: "The section's name.")
    var name: String

    @Flag(help: "Delete even while other processes map it.")
    var force = false

    func run(on host: any HostAPI) throws(Problem) { try host.delete(SectionNames.fromArgument(name), force: force) }
}
