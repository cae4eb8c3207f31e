import ArgumentParser

/// `shm-admin create NAME --reserve SIZE …`: as `POST /api/v1/sections`.
struct Create: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
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
