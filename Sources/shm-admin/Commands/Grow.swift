import ArgumentParser

/// `shm-admin grow NAME (--to SIZE | --by SIZE)`: as `POST …/grow`.
struct Grow: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "grow",
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
