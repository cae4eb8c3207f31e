import ArgumentParser

/// `shm-admin reset NAME --offset N --length N`: as `POST …/reset`.
struct Reset: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
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
