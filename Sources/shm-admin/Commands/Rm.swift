import ArgumentParser

/// `shm-admin rm NAME [--force]`: the guarded delete of `DELETE /api/v1/sections/{name}`.
struct Rm: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete a managed section: refused (exit 1, naming the pids) while other processes map it.")

    @OptionGroup var hostOptions: HostOptions

    @Argument(help: "The section's name.")
    var name: String

    @Flag(help: "Delete even while other processes map it.")
    var force = false

    func run(on host: any HostAPI) throws(Problem) { try host.delete(SectionNames.fromArgument(name), force: force) }
}
