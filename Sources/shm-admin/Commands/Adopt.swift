import ArgumentParser

/// `shm-admin adopt NAME [--reserve SIZE] [--label K=V]…`: as `POST …/adopt`.
struct Adopt: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "adopt", abstract: "Register a foreign section, so that it is managed.")

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
        try output.print(
            try host.adopt(
                SectionNames.fromArgument(name), reserve: size ?? nil, labels: (try? parseLabels(labels)) ?? [:]))
    }
}
