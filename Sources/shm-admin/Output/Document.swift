import JSON

/// An answer of the API read back (with the project's own parser, `StrictJSON`): tables are made
/// from the same JSON members in local and remote mode, so both print the same thing for one host.
struct Document: Sendable {
    let value: JSONValue

    init(_ value: JSONValue) { self.value = value }

    static func parse(_ bytes: [UInt8]) -> Document? {
        (try? StrictJSON.parse(bytes)).map(Document.init)
    }

    subscript(_ key: String) -> Document {
        if case .object(let members) = value, let found = members.first(where: { $0.0 == key }) {
            return Document(found.1)
        }
        return Document(.null)
    }

    var string: String? {
        switch value {
        case .string(let text): text
        case .int(let number): String(number)
        case .bool(let flag): flag ? "true" : "false"
        case .double(let number): String(number)
        default: nil
        }
    }

    var int: Int64? {
        switch value {
        case .int(let number): number
        case .double(let number): Int64(exactly: number)
        default: nil
        }
    }

    var bool: Bool? {
        if case .bool(let flag) = value { return flag }
        return nil
    }

    var array: [Document] {
        if case .array(let elements) = value { return elements.map(Document.init) }
        return []
    }

    /// The members, in the order the answer gives them.
    var members: [(key: String, value: Document)] {
        if case .object(let members) = value { return members.map { ($0.0, Document($0.1)) } }
        return []
    }
}
