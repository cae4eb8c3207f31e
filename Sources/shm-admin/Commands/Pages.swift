import ArgumentParser

/// `shm-admin pages NAME`: the section's runs of data, committed and reserved pages
/// (`GET …/pages`), as a table or a one-line bar of the reserve.
struct Pages: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "pages", abstract: "Show a section's page map: data, committed, reserved.")

    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var table: TableOptions

    @Argument(help: "The section's name.")
    var name: String

    @Option(help: "Start of the window, in bytes.")
    var from: Int64?

    @Option(help: "End of the window, in bytes.")
    var to: Int64?

    @Flag(help: "One line: a bar of the reserve (# data, = committed, . reserved) and the totals.")
    var bar = false

    static let shape = TableShape(
        columns: [
            .member("OFFSET", "offset", .number, "where the run starts, in bytes"),
            Column("END", .number, "where it ends (exclusive), in bytes") { row in
                .number((row["offset"].int ?? 0) + (row["length"].int ?? 0))
            },
            .member("LENGTH", "length", .bytes, "its length"),
            .member("STATE", "state", .text, "data, committed (reads as zeros) or reserved (past the commit)"),
        ],
        defaults: ["OFFSET", "END", "LENGTH", "STATE"])

    func run(on host: any HostAPI) throws(Problem) {
        if table.listColumns { return Terminal.out(Self.shape.columnList) }
        let answer = try host.pages(SectionNames.fromArgument(name), from: from, to: to)
        if table.json { return Terminal.out(answer + [10]) }
        guard let map = Document.parse(answer) else { throw Problem.local("Bad answer", "the page map is not JSON") }
        if bar { return Terminal.out(PageText.bar(map) + "  " + PageText.summary(map, bytes: table.bytes) + "\n") }
        Terminal.out(usage { () throws(ValidationError) in try table.render(map["runs"].array, Self.shape) })
    }
}

enum PageText {
    /// `data 8K, committed 92K, reserved 900K` over the map's runs.
    static func summary(_ map: Document, bytes: Bool) -> String {
        var totals: [String: Int64] = [:]
        for run in map["runs"].array { totals[run["state"].string ?? "", default: 0] += run["length"].int ?? 0 }
        var text = ["data", "committed", "reserved"].map {
            "\($0) \(Cell.bytes(totals[$0] ?? 0).rendered(bytes: bytes))"
        }
        .joined(separator: ", ")
        if map["truncated"].bool == true { text += " (truncated)" }
        return text
    }

    /// 64 characters over the runs' span, each the state of most of its bytes.
    static func bar(_ map: Document, width: Int = 64) -> String {
        let runs = map["runs"].array
        guard let first = runs.first?["offset"].int, let last = runs.last,
            let end = last["offset"].int.map({ $0 + (last["length"].int ?? 0) }), end > first
        else { return "[" + String(repeating: " ", count: width) + "]" }
        let span = Double(end - first)
        var weights = [[String: Double]](repeating: [:], count: width)
        for run in runs {
            let start = Double((run["offset"].int ?? 0) - first) / span * Double(width)
            let stop = start + Double(run["length"].int ?? 0) / span * Double(width)
            var cell = Int(start)
            while cell < width && Double(cell) < stop {
                let covered = min(stop, Double(cell + 1)) - max(start, Double(cell))
                weights[cell][run["state"].string ?? "", default: 0] += covered
                cell += 1
            }
        }
        let marks: [String: Character] = ["data": "#", "committed": "=", "reserved": "."]
        let line = weights.map { cell -> Character in
            guard let top = cell.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }) else {
                return " "
            }
            return marks[top.key] ?? "?"
        }
        return "[" + String(line) + "]"
    }
}
