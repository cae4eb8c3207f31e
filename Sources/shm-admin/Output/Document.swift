import JSON
import SectionRegistry
import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// An answer of the API read back: tables are made from the same JSON members in local and remote
/// mode, so both print the same thing for one host.
///
/// Read lazily: one pass over the bytes notes where each value lies (a `Tape`), and a member is
/// decoded only when a column reads it. A 10,000-section listing has 300,000 members and a table
/// reads about a third of them; building the whole tree (`StrictJSON`) was half of `ls`'s time
/// (bench/ANALYSIS.md, "shm-admin ls").
struct Document: Sendable {
    private let tape: Tape?
    private let node: Int
    /// A section straight from the registry (`tape` is nil then).
    private let section: LocalSection?
    /// One of its members (`tape` and `section` are nil then).
    private let member: SectionMember?

    private init(_ tape: Tape?, _ node: Int) {
        self.tape = tape
        self.node = node
        section = nil
        member = nil
    }

    private init(section: LocalSection?, member: SectionMember?) {
        tape = nil
        node = 0
        self.section = section
        self.member = member
    }

    /// JSON null, and what a missing member reads as.
    static let null = Document(nil, 0)

    /// Nil when `bytes` are not one JSON value.
    static func parse(_ bytes: [UInt8]) -> Document? {
        Tape(bytes).map { Document($0, 0) }
    }

    /// A section of the local registry read as its JSON would read (`CommandLineAnswers.sectionMember`),
    /// without writing that JSON: a local table of 10,000 sections (bench/ANALYSIS.md, "shm-admin ls").
    /// Only its members are read: `members`, `array` and `value` of the section itself are empty.
    init(section: SectionInfo, mount: String) {
        self.init(section: LocalSection(info: section, mount: mount), member: nil)
    }

    private init(_ member: SectionMember) { self.init(section: nil, member: member) }

    /// Whether it is a local section or one of its members.
    private var isLocal: Bool { section != nil || member != nil }

    private var entry: Tape.Node? { tape?.nodes[node] }

    subscript(_ key: String) -> Document {
        if let section { return SectionMemberKey(rawValue: key).map { Document(section.member($0)) } ?? .null }
        var name = key
        return name.withUTF8 { tapeMember(named: $0, key) }
    }

    /// The same, with the member resolved beforehand (a column's, read for every row).
    subscript(_ key: MemberKey) -> Document {
        if let section { return key.sectionMember.map { Document(section.member($0)) } ?? .null }
        return key.bytes.withUnsafeBufferPointer { tapeMember(named: $0, key.name) }
    }

    /// The member named `name` (its UTF-8 `bytes`) of a tape's object.
    private func tapeMember(named bytes: UnsafeBufferPointer<UInt8>, _ name: String) -> Document {
        if member != nil { return .null }
        guard let tape, let entry, entry.kind == .object else { return .null }
        var child = node + 1
        while child < entry.after {
            let value = child + 1
            if tape.key(child, equals: bytes, name) { return Document(tape, value) }
            child = tape.nodes[value].after
        }
        return .null
    }

    var string: String? {
        if isLocal {
            switch member {
            case .text, .time: return member?.text
            case .number(let number): return String(number)
            case .flag(let flag): return flag ? "true" : "false"
            default: return nil
            }
        }
        guard let tape, let entry else { return nil }
        switch entry.kind {
        case .string: return tape.text(entry)
        case .number: return int.map(String.init) ?? tape.double(entry).map { String($0) }
        case .true: return "true"
        case .false: return "false"
        default: return nil
        }
    }

    /// An RFC 3339 time member as seconds since the epoch (a local section's without the text).
    var seconds: Double? {
        if case .time(let seconds) = member { return seconds }
        return string.flatMap(RFC3339.seconds)
    }

    var int: Int64? {
        if isLocal {
            guard case .number(let number) = member else { return nil }
            return number
        }
        guard let tape, let entry, entry.kind == .number else { return nil }
        return tape.integer(entry) ?? tape.double(entry).flatMap { Int64(exactly: $0) }
    }

    var bool: Bool? {
        if isLocal {
            guard case .flag(let flag) = member else { return nil }
            return flag
        }
        switch entry?.kind {
        case .true: return true
        case .false: return false
        default: return nil
        }
    }

    var array: [Document] {
        guard let tape, let entry, entry.kind == .array else { return [] }
        var elements: [Document] = []
        var child = node + 1
        while child < entry.after {
            elements.append(Document(tape, child))
            child = tape.nodes[child].after
        }
        return elements
    }

    /// The members, in the order the answer gives them (labels: sorted by key, as the API writes them).
    var members: [(key: String, value: Document)] {
        if isLocal {
            guard case .labels(let labels) = member else { return [] }
            return labels.sorted { $0.key < $1.key }.map { ($0.key, Document(.text($0.value))) }
        }
        guard let tape, let entry, entry.kind == .object else { return [] }
        var found: [(key: String, value: Document)] = []
        var child = node + 1
        while child < entry.after {
            found.append((tape.text(tape.nodes[child]) ?? "", Document(tape, child + 1)))
            child = tape.nodes[child + 1].after
        }
        return found
    }

    /// The value as a tree, for the few answers the command line writes again (`ls --uid -J`).
    var value: JSONValue {
        if isLocal {
            switch member {
            case .text(let text): return .string(text)
            case .time: return .string(member?.text ?? "")
            case .number(let number): return .int(number)
            case .flag(let flag): return .bool(flag)
            case .labels(let labels):
                return .object(labels.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) })
            default: return .null
            }
        }
        guard let tape, let entry else { return .null }
        return (try? StrictJSON.parse(Array(tape.bytes[entry.start..<entry.end]))) ?? .null
    }
}

/// A section and the mount it is named with, shared by the documents of its members.
final class LocalSection: Sendable {
    let info: SectionInfo
    let mount: String

    init(info: SectionInfo, mount: String) {
        self.info = info
        self.mount = mount
    }

    /// One member, read in place: `section.info` read from outside copied the whole section (every
    /// string and the labels retained and released) for each of a listing's 100,000 cells.
    func member(_ key: SectionMemberKey) -> SectionMember {
        CommandLineAnswers.sectionMember(key, of: info, mount: mount)
    }
}

/// A member's name, resolved once to a section's member (a column reads it for every row).
struct MemberKey: Sendable, ExpressibleByStringLiteral {
    let name: String
    /// The name's UTF-8, as an answer's bytes spell it when it has no escape.
    let bytes: [UInt8]
    let sectionMember: SectionMemberKey?

    init(_ name: String) {
        self.name = name
        bytes = Array(name.utf8)
        sectionMember = SectionMemberKey(rawValue: name)
    }

    init(stringLiteral name: String) { self.init(name) }
}

/// Where each value of a JSON text lies: its nodes in document order, each with its byte range
/// and the index just past its subtree (an object's children alternate key and value).
final class Tape: Sendable {
    enum Kind: UInt8 { case object, array, string, number, `true`, `false`, null }

    /// 16 bytes: a listing of 10,000 sections has 650,000 of them. Offsets fit 32 bits (an answer
    /// is far below 2 GiB).
    struct Node {
        var kind: Kind
        /// Whether a string holds a backslash escape (its text must be decoded, not copied).
        var escaped: Bool
        private var first: UInt32
        private var last: UInt32
        private var next: UInt32

        init(kind: Kind, escaped: Bool, start: Int, end: Int, after: Int) {
            self.kind = kind
            self.escaped = escaped
            first = UInt32(truncatingIfNeeded: start)
            last = UInt32(truncatingIfNeeded: end)
            next = UInt32(truncatingIfNeeded: after)
        }

        var start: Int { Int(first) }
        var end: Int {
            get { Int(last) }
            set { last = UInt32(truncatingIfNeeded: newValue) }
        }
        /// The index just past this node's subtree.
        var after: Int {
            get { Int(next) }
            set { next = UInt32(truncatingIfNeeded: newValue) }
        }
    }

    let bytes: [UInt8]
    let nodes: [Node]

    /// Nil when `bytes` are not one well-formed JSON value (strings' UTF-8 is checked when read).
    init?(_ bytes: [UInt8]) {
        guard bytes.count < Int(UInt32.max) else { return nil }
        // Read through a buffer pointer: no bounds check or array access per byte (4 MB for a listing).
        let read = bytes.withUnsafeBufferPointer { buffer -> [Node]? in
            var reader = Reader(bytes: buffer)
            guard reader.value(depth: 0), reader.atEnd else { return nil }
            return reader.nodes
        }
        guard let read else { return nil }
        self.bytes = bytes
        nodes = read
    }

    /// Whether the string at `index` (a member's name) is `name`, whose UTF-8 is `bytes`.
    func key(_ index: Int, equals bytes: UnsafeBufferPointer<UInt8>, _ name: String) -> Bool {
        let node = nodes[index]
        if node.escaped { return text(node) == name }
        guard bytes.count == node.end - node.start - 2 else { return false }
        guard let wanted = bytes.baseAddress else { return true }
        return self.bytes.withUnsafeBufferPointer { all in
            memcmp(all.baseAddress! + node.start + 1, wanted, bytes.count) == 0
        }
    }

    func text(_ node: Node) -> String? {
        guard node.kind == .string else { return nil }
        if !node.escaped { return String(decoding: bytes[node.start + 1..<node.end - 1], as: UTF8.self) }
        guard case .string(let text)? = try? StrictJSON.parse(Array(bytes[node.start..<node.end])) else { return nil }
        return text
    }

    func integer(_ node: Node) -> Int64? {
        var index = node.start
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        var value: Int64 = 0
        while index < node.end {
            let digit = bytes[index]
            guard (48...57).contains(digit) else { return nil }
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times.addingReportingOverflow(Int64(digit - 48))
            guard !overflow, !carry else {
                // -9223372036854775808 does not fit as a positive number first
                return negative ? Int64(String(decoding: bytes[node.start..<node.end], as: UTF8.self)) : nil
            }
            value = sum
            index += 1
        }
        return negative ? -value : value
    }

    func double(_ node: Node) -> Double? { Double(String(decoding: bytes[node.start..<node.end], as: UTF8.self)) }

    /// The bytes of `word` (little-endian: the first at the lowest bits) that end or escape a string
    /// or are control characters, as their high bits. Zero when there is none, and the lowest set
    /// bit is always the first such byte (the zero-byte tests of "Bit Twiddling Hacks": a borrow can
    /// mark a byte above a true one, never below).
    static func specialBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func zeros(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
        return zeros(word ^ (ones &* 0x22)) | zeros(word ^ (ones &* 0x5C)) | (word &- ones &* 0x20) & ~word & highs
    }

    /// One pass of recursive descent that only notes ranges.
    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var nodes: [Node] = []

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
            // A listing has a node for every 6 to 7 bytes: room for one every 4 saves copying as it grows.
            nodes.reserveCapacity(bytes.count / 4 + 16)
        }

        var atEnd: Bool {
            mutating get {
                skipSpace()
                return index == bytes.count
            }
        }

        mutating func skipSpace() {
            var at = index
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 || bytes[at] == 0x0a || bytes[at] == 0x0d {
                at += 1
            }
            index = at
        }

        mutating func value(depth: Int) -> Bool {
            skipSpace()
            guard index < bytes.count, depth <= StrictJSON.maximumDepth else { return false }
            switch bytes[index] {
            case UInt8(ascii: "{"): return container(.object, close: UInt8(ascii: "}"), depth: depth)
            case UInt8(ascii: "["): return container(.array, close: UInt8(ascii: "]"), depth: depth)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true", .true)
            case UInt8(ascii: "f"): return literal("false", .false)
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return number()
            }
        }

        private mutating func container(_ kind: Kind, close: UInt8, depth: Int) -> Bool {
            let me = nodes.count
            nodes.append(Node(kind: kind, escaped: false, start: index, end: index, after: me + 1))
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == close {
                index += 1
            } else {
                while true {
                    if kind == .object {
                        skipSpace()
                        guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), string() else { return false }
                        skipSpace()
                        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
                        index += 1
                    }
                    guard value(depth: depth + 1) else { return false }
                    skipSpace()
                    guard index < bytes.count else { return false }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    guard bytes[index] == close else { return false }
                    index += 1
                    break
                }
            }
            nodes[me].end = index
            nodes[me].after = nodes.count
            return true
        }

        private mutating func string() -> Bool {
            // Strings are most of a listing's bytes: read eight at a time, straight to the next
            // quote, backslash or control character (byte by byte in the last seven).
            let start = index
            var at = start + 1
            var escaped = false
            let base = UnsafeRawPointer(bytes.baseAddress!)
            while at < bytes.count {
                if at + 8 <= bytes.count {
                    let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                    let special = Tape.specialBytes(word)
                    if special == 0 {
                        at += 8
                        continue
                    }
                    at += special.trailingZeroBitCount >> 3
                }
                let byte = bytes[at]
                if byte == UInt8(ascii: "\"") {
                    index = at + 1
                    nodes.append(
                        Node(kind: .string, escaped: escaped, start: start, end: index, after: nodes.count + 1))
                    return true
                }
                if byte < 0x20 { return false }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    at += 1
                }
                at += 1
            }
            return false
        }

        private mutating func literal(_ text: StaticString, _ kind: Kind) -> Bool {
            let count = text.utf8CodeUnitCount
            guard bytes.count - index >= count else { return false }
            for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { return false }
            nodes.append(Node(kind: kind, escaped: false, start: index, end: index + count, after: nodes.count + 1))
            index += count
            return true
        }

        /// A number's extent (its digits are read when a column asks); at least one digit.
        private mutating func number() -> Bool {
            let start = index
            var at = index
            var digits = false
            scan: while at < bytes.count {
                switch bytes[at] {
                case 48...57: digits = true
                case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
                    break
                default: break scan
                }
                at += 1
            }
            index = at
            guard digits else { return false }
            nodes.append(Node(kind: .number, escaped: false, start: start, end: index, after: nodes.count + 1))
            return true
        }
    }
}
