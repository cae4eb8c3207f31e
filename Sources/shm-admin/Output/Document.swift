#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An answer of the API read back: tables are made from the same JSON members in local and remote
/// mode, so both print the same thing for the same host.
enum Document: Decodable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([Document])
    case object([String: Document])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([Document].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: Document].self))
        }
    }

    static func parse(_ bytes: [UInt8]) -> Document? {
        try? JSONDecoder().decode(Document.self, from: Data(bytes))
    }

    subscript(_ key: String) -> Document {
        if case .object(let members) = self { return members[key] ?? .null }
        return .null
    }

    var string: String? {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        case .bool(let value): value ? "true" : "false"
        case .double(let value): String(value)
        default: nil
        }
    }

    var int: Int64? {
        switch self {
        case .int(let value): value
        case .double(let value): Int64(exactly: value)
        default: nil
        }
    }

    var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    var array: [Document] {
        if case .array(let value) = self { return value }
        return []
    }

    var members: [String: Document] {
        if case .object(let value) = self { return value }
        return [:]
    }
}
