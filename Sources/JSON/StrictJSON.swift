/// A JSON parser for request bodies that refuses what a lenient one lets through: duplicate
/// keys, nesting deeper than `maximumDepth`, trailing bytes, invalid UTF-8. Integers that fit
/// an Int64 stay exact; any other number becomes a Double. Request bodies and the registry's
/// records are read with it.
public struct StrictJSON {
    public struct Failure: Error {
        public var message: String
    }

    public static let maximumDepth = 32
    private static let hexDigits = Set("0123456789abcdefABCDEF".utf8)

    private let bytes: [UInt8]
    private var index = 0

    public static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        var parser = StrictJSON(bytes: bytes)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == bytes.count else { throw parser.fail("unexpected data after the JSON value") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func fail(_ message: String) -> Failure { Failure(message: "\(message) at byte \(index)") }

    private mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[index]) { index += 1 }
    }

    private mutating func value(depth: Int) throws(Failure) -> JSONValue {
        guard index < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default: return try number()
        }
    }

    private mutating func literal(_ text: String, _ value: JSONValue) throws(Failure) -> JSONValue {
        let expected = Array(text.utf8)
        guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected else {
            throw fail("invalid JSON")
        }
        index += expected.count
        return value
    }

    /// `depth` counts the objects and arrays around this one: the root is at 0.
    private func enter(depth: Int) throws(Failure) {
        guard depth < Self.maximumDepth else { throw fail("JSON nested deeper than \(Self.maximumDepth) levels") }
    }

    private mutating func object(depth: Int) throws(Failure) -> JSONValue {
        try enter(depth: depth)
        index += 1
        var members: [(String, JSONValue)] = []
        var keys = Set<String>(minimumCapacity: 16)
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            let key = try string()
            guard keys.insert(key).inserted else { throw fail("duplicate member '\(key.prefix(64))'") }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipSpace()
            members.append((key, try value(depth: depth + 1)))
            skipSpace()
            guard index < bytes.count else { throw fail("unexpected end of JSON") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            index += 1
            return .object(members)
        }
    }

    private mutating func array(depth: Int) throws(Failure) -> JSONValue {
        try enter(depth: depth)
        index += 1
        var elements: [JSONValue] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipSpace()
            elements.append(try value(depth: depth + 1))
            skipSpace()
            guard index < bytes.count else { throw fail("unexpected end of JSON") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            index += 1
            return .array(elements)
        }
    }

    /// A string's text. The run of bytes up to the closing quote is validated and decoded at once
    /// (most strings hold no escape); escapes are decoded into a byte buffer with the runs between
    /// them, each run validated on its own.
    private mutating func string() throws(Failure) -> String {
        index += 1
        var decoded: [UInt8]? = nil
        var runStart = index
        var ascii = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 {
                let run = bytes[runStart..<index]
                // ASCII needs no validation (and String(validating:) costs a generic call a string).
                guard ascii || String(validating: run, as: UTF8.self) != nil else {
                    throw fail("invalid UTF-8 in a string")
                }
                index += 1
                if byte == UInt8(ascii: "\"") {
                    guard var done = decoded else { return String(decoding: run, as: UTF8.self) }
                    done.append(contentsOf: run)
                    return String(decoding: done, as: UTF8.self)
                }
                guard byte == UInt8(ascii: "\\") else { throw fail("control character in a string") }
                var done = decoded ?? []
                done.append(contentsOf: run)
                done.append(contentsOf: UTF8.encode(try escape())!)
                decoded = done
                runStart = index
                ascii = true
            } else {
                if byte >= 0x80 { ascii = false }
                index += 1
            }
        }
        throw fail("unterminated string")
    }

    private mutating func escape() throws(Failure) -> Unicode.Scalar {
        guard index < bytes.count else { throw fail("unterminated escape") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let high = try hex4()
            if (0xD800..<0xDC00).contains(high) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { throw fail("unpaired surrogate") }
                index += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low),
                    let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                else { throw fail("invalid surrogate pair") }
                return scalar
            }
            guard let scalar = Unicode.Scalar(high) else { throw fail("unpaired surrogate") }
            return scalar
        default: throw fail("invalid escape")
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        // Four hex digits exactly: UInt32(_:radix:) alone would also take a sign ("\u+041").
        guard bytes.count - index >= 4,
            bytes[index..<index + 4].allSatisfy({ Self.hexDigits.contains($0) }),
            let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
        else { throw fail("invalid \\u escape") }
        index += 4
        return value
    }

    private mutating func number() throws(Failure) -> JSONValue {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 }
        guard index > digitsStart else { throw fail("invalid JSON") }
        if bytes[digitsStart] == 48 && index - digitsStart > 1 { throw fail("leading zero in a number") }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            let fraction = index
            while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 }
            guard index > fraction else { throw fail("invalid number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            let exponent = index
            while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 }
            guard index > exponent else { throw fail("invalid number") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger, let integer = Int64(text) { return .int(integer) }
        return .double(Double(text) ?? .infinity)
    }
}
