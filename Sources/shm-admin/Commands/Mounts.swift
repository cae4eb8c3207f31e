import ArgumentParser

/// `shm-admin mounts`: every shared-memory mount of the host (`GET /api/v1/mounts`): the
/// shared-memory directory's first, then every container's /dev/shm.
struct Mounts: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "mounts",
        abstract: "List every shared-memory mount: size, used, free, exposure, container.",
        discussion: """
            One row per tmpfs some process sees at /dev/shm (every container's), the shared-memory directory's \
            first. EXPOSURE is the bytes of its objects with no memory behind them; EXPOSED says yes when that \
            is more than FREE: a writer touching them may die of SIGBUS. -J prints GET /api/v1/mounts' answer.
            """)

    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var table: TableOptions

    var wholeHost: Bool { true }

    func run(on host: any HostAPI) throws(Problem) {
        if table.listColumns { return Terminal.out(MountColumns.shape.columnList) }
        let answer = try host.mounts()
        if table.json { return Terminal.out(answer + [10]) }
        guard let document = Document.parse(answer) else {
            throw Problem.local("Bad answer", "the mounts are not JSON")
        }
        Terminal.out(
            usage { () throws(ValidationError) in try table.render(document["mounts"].array, MountColumns.shape) })
    }
}
