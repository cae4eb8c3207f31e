import Testing

@testable import JSON

/// The request-body parser: what it accepts and the exact value, and what it refuses.
@Suite struct StrictJSONTests {
    static func parse(_ text: String) -> JSONValue? { try? StrictJSON.parse(Array(text.utf8)) }

    static func nested(_ depth: Int, innermost: String = "") -> String {
        String(repeating: "[", count: depth) + innermost + String(repeating: "]", count: depth)
    }

    @Test(
        arguments: [
            ("{}", JSONValue.object([])),
            ("[]", .array([])),
            (" \t\r\n{ \"a\" : [ 1 , 2 , { \"b\" : null } ] }\n ", ["a": [1, 2, ["b": nil]]]),
            ("\"x\"", "x"),
            ("true", true), ("false", false), ("null", nil),
            ("0", 0), ("-0", 0), ("42", 42), ("-17", -17),
            ("9223372036854775807", .int(.max)),
            ("-9223372036854775808", .int(.min)),
            ("1.5", 1.5), ("-0.25", -0.25), ("1e3", .double(1000)), ("1E+2", .double(100)), ("25e-1", 2.5),
            ("0.0", .double(0)),
            (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{08}\u{0C}\n\r\t"),
            (#""\u0041\u00e9\u20ac""#, "Aé€"),
            (#""\ud83d\ude00""#, "😀"),
            (#""\u0000""#, "\u{0}"),
            ("\"héllo ✓ 😀\"", "héllo ✓ 😀"),
            // escapes between runs of multi-byte characters (decoded into one buffer)
            (#""é\n✓\u00e9x\"ü""#, "é\n✓éx\"ü"),
            (#""\\""#, "\\"), (#""a\tb""#, "a\tb"),
            (#"{"a":1,"b":{"a":2}}"#, ["a": 1, "b": ["a": 2]]),
        ] as [(String, JSONValue)])
    func accepts(text: String, expected: JSONValue) {
        #expect(Self.parse(text) == expected, "\(text)")
    }

    /// Integers that do not fit 64 bits are kept as doubles, never wrapped or refused.
    @Test(arguments: [
        ("9223372036854775808", 9_223_372_036_854_775_808.0),
        ("-9223372036854775809", -9_223_372_036_854_775_809.0),
        ("12345678901234567890", 12_345_678_901_234_567_890.0),
        ("100000000000000000000000", 1e23),
    ])
    func hugeIntegersBecomeDoubles(text: String, expected: Double) {
        guard case .double(let value)? = Self.parse(text) else {
            Issue.record("\(text) did not parse as a double: \(String(describing: Self.parse(text)))")
            return
        }
        #expect(value == expected)
    }

    @Test(arguments: [
        // not JSON at all, or cut short
        "", " ", "{", "[", "[1,", "{\"a\"", "{\"a\":", "{\"a\":1,}", "[1,]", "[,1]", "{,}", "nul", "tru", "True",
        "'a'", "{a:1}", "{\"a\" 1}", "undefined", "NaN", "Infinity", "-Infinity",
        // trailing data
        "{} x", "{}{}", "1 2", "\"a\"\"b\"", "[] ]", "{}\u{0}", "null,", "0x10",
        // numbers JSON does not have
        "01", "-01", "00", "+1", "-", "1.", ".5", "1e", "1e+", "-.5", "1.e3", "--1",
        // duplicate members, also when spelt differently
        #"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"x":{"k":1,"k":1}}"#,
        // strings: raw control characters, bad escapes, lone surrogates
        "\"a\nb\"", "\"tab\there\"", "\"\\x41\"", "\"\\u12\"", "\"\\u00G1\"", "\"\\u+041\"", "\"\\u-041\"",
        "\"\\u 041\"", "\"unterminated", "\"\\",
        #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800x""#, #""\ude00\ud83d""#, #""\ud800\ud800""#,
    ])
    func refuses(text: String) {
        #expect(Self.parse(text) == nil, "accepted \(text.debugDescription)")
    }

    /// Bytes that are not UTF-8 inside a string (and a UTF-8 BOM before the value).
    @Test(
        arguments: [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0x61, 0x80, 0x22], [0xEF, 0xBB, 0xBF, 0x7B, 0x7D],
            [0x7B, 0x22, 0xFE, 0x22, 0x3A, 0x31, 0x7D],
            // a broken sequence before, between or after escapes
            [0x22, 0xC3, 0x5C, 0x6E, 0x22], [0x22, 0x5C, 0x6E, 0xA9, 0x22], [0x22, 0x5C, 0x6E, 0xE2, 0x9C, 0x22],
        ] as [[UInt8]])
    func refusesInvalidUTF8(bytes: [UInt8]) {
        #expect((try? StrictJSON.parse(bytes)) == nil, "accepted \(bytes)")
    }

    @Test func nestingUpToTheLimitIsAccepted() {
        let limit = StrictJSON.maximumDepth
        #expect(limit == 32)
        #expect(Self.parse(Self.nested(limit)) != nil)
        #expect(Self.parse(Self.nested(limit, innermost: "1")) != nil)
        #expect(Self.parse(Self.nested(limit - 1, innermost: #"{"a":1}"#)) != nil)
    }

    @Test(arguments: [33, 34, 100, 100_000])
    func nestingDeeperThanTheLimitIsRefused(depth: Int) {
        #expect(Self.parse(Self.nested(depth)) == nil)
        #expect(Self.parse(Self.nested(depth, innermost: "1")) == nil)
        let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(Self.parse(objects) == nil)
    }

    @Test func failuresSayWhereAndWhy() {
        do {
            _ = try StrictJSON.parse(Array(#"{"a":1,"a":2}"#.utf8))
            Issue.record("a duplicate member was accepted")
        } catch {
            #expect(error.message.contains("duplicate member 'a'"))
            #expect(error.message.contains("at byte"))
        }
    }

    @Test func membersKeepTheirOrder() {
        guard case .object(let members)? = Self.parse(#"{"b":1,"a":2,"c":3}"#) else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.0) == ["b", "a", "c"])
    }
}
