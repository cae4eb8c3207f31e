import ArgumentParser
import Synchronization

/// `shm-admin watch [NAME…]`: events as they happen, whoever makes them (`GET /api/v1/events`
/// remotely, the registry's change feed locally), until interrupted or the reader goes away.
struct Watch: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print events as they happen, one line each (JSON lines with -J), until interrupted.")

    @OptionGroup var hostOptions: HostOptions

    @Argument(help: "Only events of these sections (default: all).")
    var names: [String] = []

    @Flag(
        name: [.customShort("J"), .customLong("json")], help: "One event object per line, as the event stream sends it."
    )
    var json = false

    func run() throws {
        Terminal.ignoreBrokenPipe()
        Interrupt.install()
        do throws(Problem) {
            let host = try hostOptions.host(watch: true)
            try run(on: host)
        } catch {
            Terminal.error(error.line)
            throw ExitCode(1)
        }
    }

    func run(on host: any HostAPI) throws(Problem) {
        let wanted = Set(names.map(SectionNames.fromArgument))
        let json = self.json
        try host.events { data in
            guard let event = Document.parse(data) else { return true }
            guard EventText.shown(event, wanted: wanted) else { return true }
            let line = json ? data + [10] : Array(EventText.line(event).utf8)
            return line.withUnsafeBytes { Terminal.write($0) }
        }
    }
}

enum EventText {
    /// With names given: their events, and a rescan (which may be about any of them), not the
    /// events about no section (mounts, findings); without: every event.
    static func shown(_ event: Document, wanted: Set<String>) -> Bool {
        wanted.isEmpty || event["type"].string == "rescan" || (event["section"].string.map(wanted.contains) ?? false)
    }

    /// `TIME TYPE SECTION SOURCE key=value…`, the section escaped (`-` for a rescan).
    static func line(_ event: Document) -> String {
        let fixed = ["id", "type", "section", "source", "time"]
        var parts = [
            event["time"].string ?? "-", event["type"].string ?? "-", event["section"].string.map(Escape.text) ?? "-",
            event["source"].string ?? "-",
        ]
        for (key, value) in event.members.sorted(by: { $0.key < $1.key }) where !fixed.contains(key) {
            parts.append(Escape.text("\(key)=\(plain(value))"))
        }
        return parts.joined(separator: " ") + "\n"
    }

    /// A member's value as text: a list (`pids`) joined by commas, an object as `k:v` pairs.
    static func plain(_ value: Document) -> String {
        if let text = value.string { return text }
        let members = value.members
        if !members.isEmpty { return members.map { "\($0.key):\(plain($0.value))" }.joined(separator: ",") }
        return value.array.map(plain).joined(separator: ",")
    }
}
