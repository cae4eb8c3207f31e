/// One Server-Sent Event as it goes on the wire:
/// `id: N\nevent: TYPE\ndata: LINE\n…\n\n` (each line of `data` becomes its own `data:` line).
public struct ServerSentEvent: Sendable, Hashable {
    public var id: UInt64?
    public var event: String?
    public var data: String

    public init(id: UInt64? = nil, event: String? = nil, data: String) {
        self.id = id
        self.event = event
        self.data = data
    }

    /// The encoded event. Carriage returns and line feeds in `event` are dropped; `data` is split into
    /// lines so a newline inside it cannot end the event early.
    public var encoded: [UInt8] {
        var text = ""
        if let id { text += "id: \(id)\n" }
        if let event { text += "event: \(event.filter { $0 != "\n" && $0 != "\r" })\n" }
        for line in data.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            text += "data: \(line)\n"
        }
        text += "\n"
        return Array(text.utf8)
    }

    /// A comment line (`: text\n\n`), ignored by clients; used for `connected` and keep-alives.
    public static func comment(_ text: String) -> [UInt8] {
        Array(": \(text.filter { $0 != "\n" && $0 != "\r" })\n\n".utf8)
    }
}
