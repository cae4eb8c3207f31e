import JSON

/// What the registry remembers of a managed section, one file per section in the state
/// directory. The object itself holds the user's bytes and nothing else.
struct SectionRecord: Sendable, Equatable {
    /// Where a create or delete stood when the record was written: a crash between the steps
    /// leaves `creating` or `deleting`, which the next start rolls back or finishes.
    enum Phase: String, Sendable { case creating, ready, deleting }

    var version = 1
    var name: String
    var reserve: Int64
    var namespace: Namespace
    var labels: [String: String]
    /// Seconds since the epoch.
    var createdAt: Double
    var createdBy: String
    var adopted: Bool
    var phase: Phase
    /// The object's inode when the record was made ready.
    var inode: UInt64?
}

extension SectionRecord: JSONRepresentable {
    /// Members in sorted order (labels too), as the records on disk have always been written.
    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("adopted")
        json.bool(adopted)
        json.key("createdAt")
        json.double(createdAt)
        json.key("createdBy")
        json.string(createdBy)
        if let inode {
            json.key("inode")
            json.uint(inode)
        }
        json.key("labels")
        json.beginObject()
        for key in labels.keys.sorted() {
            json.key(data: key)
            json.string(labels[key]!)
        }
        json.endObject()
        json.key("name")
        json.string(name)
        json.key("namespace")
        json.string(namespace.rawValue)
        json.key("phase")
        json.string(phase.rawValue)
        json.key("reserve")
        json.int(reserve)
        json.key("version")
        json.int(Int64(version))
        json.endObject()
    }

    /// The record file's text.
    func encoded() -> [UInt8] {
        jsonBytes(capacity: 256 + labels.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 6 })
    }
}

extension SectionRecord {
    struct Unreadable: Error {
        var reason: String
    }

    /// Reads a record file's text, in any member order; members it does not know are ignored, an
    /// absent or null `inode` is nil. Anything else missing or of the wrong type is `Unreadable`, and
    /// so is an inode past `Int64.max`, which `StrictJSON` cannot read exactly (tmpfs numbers its
    /// inodes from a counter: none comes near).
    init(decoding bytes: [UInt8]) throws(Unreadable) {
        let value: JSONValue
        do { value = try StrictJSON.parse(bytes) } catch { throw Unreadable(reason: error.message) }
        guard case .object(let pairs) = value else { throw Unreadable(reason: "not a JSON object") }
        var members: [String: JSONValue] = [:]
        for (key, member) in pairs { members[key] = member }

        func member<T>(_ key: String, _ read: (JSONValue) -> T?) throws(Unreadable) -> T {
            guard let member = members[key], let value = read(member) else {
                throw Unreadable(reason: "'\(key)' is missing or of the wrong type")
            }
            return value
        }
        let string = { (value: JSONValue) -> String? in if case .string(let text) = value { text } else { nil } }
        let integer = { (value: JSONValue) -> Int64? in if case .int(let number) = value { number } else { nil } }

        version = Int(try member("version", integer))
        name = try member("name", string)
        reserve = try member("reserve", integer)
        namespace = try member("namespace") { string($0).flatMap(Namespace.init(rawValue:)) }
        labels = try member("labels") { value -> [String: String]? in
            guard case .object(let pairs) = value else { return nil }
            var labels: [String: String] = [:]
            for (key, member) in pairs {
                guard let text = string(member) else { return nil }
                labels[key] = text
            }
            return labels
        }
        createdAt = try member("createdAt") { value -> Double? in
            switch value {
            case .double(let seconds): seconds
            case .int(let seconds): Double(seconds)
            default: nil
            }
        }
        createdBy = try member("createdBy", string)
        adopted = try member("adopted") { value -> Bool? in if case .bool(let flag) = value { flag } else { nil } }
        phase = try member("phase") { string($0).flatMap(Phase.init(rawValue:)) }
        switch members["inode"] {
        case nil, .null?: inode = nil
        case .int(let number)? where number >= 0: inode = UInt64(number)
        default: throw Unreadable(reason: "'inode' is not an unsigned integer")
        }
    }
}
