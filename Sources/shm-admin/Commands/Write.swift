import ArgumentParser

#if canImport(Glibc)
    import Glibc
#endif

/// `shm-admin write NAME`: standard input written into the section (`PUT …/data`).
struct Write: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "write",
        abstract: "Write standard input into a section at an offset.",
        discussion: "It must fit inside the commit (nothing is written otherwise) unless --partial.")

    @OptionGroup var hostOptions: HostOptions

    @Argument(help: "The section's name.")
    var name: String

    @Option(help: "Where to write, in bytes.")
    var offset: Int64 = 0

    @Flag(help: "Write what fits inside the commit and say so, instead of refusing.")
    var partial = false

    @Flag(help: "Hold the section's exclusive lock while writing (waits up to 1 s).")
    var lock = false

    @Flag(name: [.customShort("J"), .customLong("json")], help: "Print the API's JSON answer as it is.")
    var json = false

    func run(on host: any HostAPI) throws(Problem) {
        var input: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw Problem.local("Cannot read standard input", String(cString: strerror(errno))) }
            if count == 0 { break }
            input += buffer[0..<count]
        }
        let answer = try host.write(
            SectionNames.fromArgument(name), offset: offset, partial: partial, lock: lock, bytes: input)
        if json { return Terminal.out(answer + [10]) }
        let result = Document.parse(answer)
        let written = result?["written"].int ?? 0
        let requested = result?["requested"].int ?? 0
        Terminal.out("wrote \(written) of \(requested) bytes at offset \(result?["offset"].int ?? offset)\n")
    }
}
