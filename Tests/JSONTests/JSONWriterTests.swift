import Testing

@testable import JSON

/// The one writer: escapes, integers, doubles, nesting, and `JSONValue` written through it.
@Suite struct JSONWriterTests {
    @Test func jsonEscapesControlCharacters() {
        let value: JSONValue = ["k": .string("\u{01}é\t"), "n": nil, "b": true, "d": 1.5]
        #expect(String(decoding: value.serialized(), as: UTF8.self) == #"{"k":"\u0001é\t","n":null,"b":true,"d":1.5}"#)
    }

    @Test(arguments: [Int64.min, -1_000_000_007, -1, 0, 7, 10, 4096, 1_234_567_890_123, Int64.max])
    func jsonIntegersAreWrittenExactly(_ value: Int64) {
        #expect(String(decoding: JSONValue.int(value).serialized(), as: UTF8.self) == String(value))
    }

    @Test func jsonStringsWithAndWithoutEscapes() {
        let value: JSONValue = ["plain": "abc é 🎉", "quoted": "a\"b\\c\u{7f}"]
        #expect(
            String(decoding: value.serialized(), as: UTF8.self)
                == #"{"plain":"abc é 🎉","quoted":"a\"b\\c\u007f"}"#)
    }

    @Test func jsonWriterMatchesTheValueTree() {
        var json = JSONWriter()
        json.beginObject()
        json.key("a")
        json.string("x\"y\n")
        json.key("empty")
        json.beginObject()
        json.endObject()
        json.key("list")
        json.beginArray()
        json.int(-3)
        json.bool(true)
        json.null()
        json.beginArray()
        json.endArray()
        json.value(.object([("k", .int(1))]))
        json.endArray()
        json.key(data: "la\tbel")
        json.asciiString(maximumLength: 8) { at in
            for (index, byte) in "0600".utf8.enumerated() { at[index] = byte }
            return 4
        }
        json.endObject()
        let tree = JSONValue.object([
            ("a", .string("x\"y\n")), ("empty", .object([])),
            ("list", .array([.int(-3), .bool(true), .null, .array([]), .object([("k", .int(1))])])),
            ("la\tbel", .string("0600")),
        ])
        #expect(String(decoding: json.finish(), as: UTF8.self) == String(decoding: tree.serialized(), as: UTF8.self))
        // Past the initial capacity, with every kind of escape.
        var long = JSONWriter(capacity: 16)
        long.beginArray()
        let texts = (0..<2_000).map { "s\($0)\u{1}\"\\\r\u{7f}é" }
        for (index, text) in texts.enumerated() {
            long.string(text)
            long.int(Int64(index) * -7_919)
        }
        long.endArray()
        let expected = JSONValue.array(texts.enumerated().flatMap { [.string($1), .int(Int64($0) * -7_919)] })
        #expect(long.finish() == expected.serialized())
        // Every integer width, both ends included.
        let numbers: [Int64] =
            [Int64.min, Int64.max, 0, -1, 9, 10, 99, 100, -100, 1_000_000_007] + (0..<19).map { 1 << ($0 * 3) }
        var ints = JSONWriter()
        ints.beginArray()
        for number in numbers { ints.int(number) }
        ints.endArray()
        #expect(ints.finish() == JSONValue.array(numbers.map { .int($0) }).serialized())
        var empty = JSONWriter()
        empty.beginArray()
        empty.endArray()
        #expect(empty.finish() == Array("[]".utf8))
    }

    @Test func unsignedDoublesAndLiterals() {
        var json = JSONWriter()
        json.beginArray()
        for value: UInt64 in [0, 9, UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64.max - 1, UInt64.max] {
            json.uint(value)
        }
        for value in [0.0, 1.5, -2.25, 1e-5, 1_796_444_560.123_456_7, .infinity, .nan] { json.double(value) }
        json.string(literal: "committed")
        json.string(nil as String?)
        json.string("x" as String?)
        json.endArray()
        let expected =
            "[0,9,9223372036854775807,9223372036854775808,18446744073709551614,18446744073709551615,"
            + "0.0,1.5,-2.25,1e-05,\(1_796_444_560.123_456_7),null,null,\"committed\",null,\"x\"]"
        #expect(String(decoding: json.finish(), as: UTF8.self) == expected)
    }

    @Test func valuesAndArraysOfThem() {
        struct Pair: JSONRepresentable {
            var a: Int64
            func write(to json: inout JSONWriter) {
                json.beginArray()
                json.int(a)
                json.int(-a)
                json.endArray()
            }
        }
        var json = JSONWriter()
        json.beginObject()
        json.key("pairs")
        json.array([Pair(a: 1), Pair(a: 2)])
        json.key("none")
        json.array([Pair]())
        json.key("one")
        json.value(Pair(a: 0))
        json.endObject()
        #expect(String(decoding: json.finish(), as: UTF8.self) == #"{"pairs":[[1,-1],[2,-2]],"none":[],"one":[0,0]}"#)
        #expect(Pair(a: 5).jsonBytes(capacity: 1) == Array("[5,-5]".utf8))
    }
}
