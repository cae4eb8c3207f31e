/// An ordered list of HTTP header fields with case-insensitive lookup by name.
///
/// Repeated fields are kept in the order they were added (received), so nothing a client sent is lost;
/// `headers["Content-Type"]` answers the first value, `values(for:)` answers all of them.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// One header field as sent or to be sent: the name keeps its original spelling.
    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Every field, in order.
    public private(set) var fields: [Field]

    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { Field(name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The fields as the server collected them.
    init(fields: [Field]) {
        self.fields = fields
    }

    /// The first value of the field named `name` (case-insensitive), or nil.
    public subscript(name: String) -> String? {
        fields.first { Self.sameName($0.name, name) }?.value
    }

    /// Every value of the field named `name` (case-insensitive), in order.
    public func values(for name: String) -> [String] {
        fields.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    /// How many fields are named `name` (case-insensitive), without collecting their values.
    public func count(of name: String) -> Int {
        fields.reduce(0) { $0 + (Self.sameName($1.name, name) ? 1 : 0) }
    }

    /// Whether a field named `name` is present.
    public func contains(_ name: String) -> Bool {
        fields.contains { Self.sameName($0.name, name) }
    }

    /// Appends a field, keeping any existing field of the same name.
    public mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Replaces every field named `name` by one field with `value`.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { Self.sameName($0.name, name) }
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    public func makeIterator() -> IndexingIterator<[Field]> {
        fields.makeIterator()
    }

    /// Field names are ASCII tokens (RFC 9110 5.1): compared byte by byte with ASCII case folded,
    /// without building lowercased copies (this runs several times for every request).
    static func sameName(_ a: String, _ b: String) -> Bool {
        // Most lookups meet names of other lengths (a listing request looks up five names among its
        // headers): the counts of native strings are stored, so those are told apart at once.
        guard a.utf8.count == b.utf8.count else { return false }
        let contiguous = a.utf8.withContiguousStorageIfAvailable { left in
            b.utf8.withContiguousStorageIfAvailable { right in
                for index in 0..<left.count where left[index] != right[index] {
                    let folded = left[index] | 0x20
                    guard folded == right[index] | 0x20, folded >= 0x61, folded <= 0x7A else { return false }
                }
                return true
            }
        }
        if let contiguous, let same = contiguous { return same }
        var left = a.utf8.makeIterator()
        var right = b.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return true
            case (let x?, let y?) where x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A):
                continue
            default: return false
            }
        }
    }
}
