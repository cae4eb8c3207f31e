/// The query parameters of a request, in the order they appear in the URL, repeated keys kept.
///
/// Keys and values are percent-decoded (and `+` is a space), as libmicrohttpd gives them;
/// a key without `=` has the value `""`. Lookup is case-sensitive, as URLs are.
public struct QueryParameters: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// One `key=value` pair.
    public struct Item: Sendable, Hashable {
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Every pair, in URL order.
    public private(set) var items: [Item]

    public init(_ items: [(String, String)] = []) {
        self.items = items.map { Item(key: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The items as the server collected them.
    init(items: [Item]) {
        self.items = items
    }

    /// The first value for `key`, or nil when the key is absent.
    public subscript(key: String) -> String? {
        items.first { $0.key == key }?.value
    }

    /// Every value for `key`, in URL order.
    public func values(for key: String) -> [String] {
        items.filter { $0.key == key }.map(\.value)
    }

    /// The distinct keys, in order of first appearance (to reject unknown parameters).
    public var keys: [String] {
        var seen = Set<String>()
        return items.compactMap { seen.insert($0.key).inserted ? $0.key : nil }
    }

    /// The parameters as a dictionary of key to first value.
    public var firstValues: [String: String] {
        var result: [String: String] = [:]
        for item in items where result[item.key] == nil { result[item.key] = item.value }
        return result
    }

    public var count: Int { items.count }
    public var isEmpty: Bool { items.isEmpty }

    public mutating func append(_ key: String, _ value: String) {
        items.append(Item(key: key, value: value))
    }

    public func makeIterator() -> IndexingIterator<[Item]> {
        items.makeIterator()
    }
}
