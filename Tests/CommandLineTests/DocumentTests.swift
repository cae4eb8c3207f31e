import JSON
import Testing

@testable import shm_admin

/// The lazy reading of answers (`Document` over a `Tape`): every member a table reads gives what the
/// whole tree (`StrictJSON`) would, and text that is not JSON is refused.
@Suite struct DocumentTests {
    static let text = #"""
        {"sections":[{"name":"odd \"name\"\u00e9","commit":65536,"orphan":true,"reserve":null,
        "labels":{"b":"2","a":"1"},"ratio":1.5,"big":-9223372036854775808,"neg":-42,"e":1e3}],
        "total":1, "empty":{}, "none":[] , "é":"x"}
        """#

    @Test func membersReadAsTheTreeHasThem() throws {
        let document = try #require(Document.parse(Array(Self.text.utf8)))
        #expect(document["total"].int == 1)
        let section = try #require(document["sections"].array.first)
        #expect(document["sections"].array.count == 1)
        #expect(section["name"].string == "odd \"name\"é")
        #expect(section["commit"].int == 65536 && section["commit"].string == "65536")
        #expect(section["orphan"].bool == true && section["orphan"].string == "true")
        #expect(section["reserve"].int == nil && section["reserve"].string == nil)
        #expect(section["labels"].members.map(\.key) == ["b", "a"])
        #expect(section["labels"]["a"].string == "1")
        #expect(section["ratio"].int == nil && section["ratio"].string == "1.5")
        #expect(section["big"].int == Int64.min && section["neg"].int == -42 && section["e"].int == 1000)
        #expect(section["missing"]["deeper"].string == nil && section["missing"].array.isEmpty)
        #expect(document["empty"].members.isEmpty && document["none"].array.isEmpty)
        #expect(document["é"].string == "x")
        #expect(Document.parse(Array(#"{"":1,"a":2}"#.utf8))?[""].int == 1)
        let tree = try StrictJSON.parse(Array(Self.text.utf8))
        guard case .object(let members) = tree, case .array(let sections)? = members.first?.1 else {
            Issue.record("not the expected tree")
            return
        }
        #expect(section.value == sections.first)
    }

    /// Strings are scanned eight bytes at a time: an end, an escape or a control character at every
    /// place of a word, in strings of every length around it, reads as the tree reads it.
    @Test func stringsOfEveryLengthAndEscapePlace() throws {
        for length in 0..<20 {
            for place in 0...length {
                var plain = String(repeating: "a", count: length)
                let cut = plain.index(plain.startIndex, offsetBy: place)
                for inserted in [#"\""#, #"\\"#, #"\u00e9"#, "é", "€"] {
                    plain = String(repeating: "a", count: length)
                    plain.insert(contentsOf: inserted, at: cut)
                    let text = #"{"k":""# + plain + #"","n":1}"#
                    let document = try #require(Document.parse(Array(text.utf8)), "\(text)")
                    guard case .object(let members) = try StrictJSON.parse(Array(text.utf8)),
                        case .string(let expected) = members[0].1
                    else {
                        Issue.record("not an object: \(text)")
                        continue
                    }
                    #expect(document["k"].string == expected && document["n"].int == 1, "\(text)")
                }
                var broken = Array(String(repeating: "a", count: length).utf8)
                broken.insert(0x0A, at: place)
                #expect(Document.parse(Array(#"{"k":""#.utf8) + broken + Array(#""}"#.utf8)) == nil)
                // no closing quote
                #expect(Document.parse(Array(#"{"k":""#.utf8) + Array(repeating: 0x61, count: length)) == nil)
            }
        }
    }

    @Test func wordTestAgreesWithEveryByte() {
        var generator = SystemRandomNumberGenerator()
        let special: Set<UInt8> = Set(0..<0x20).union([0x22, 0x5C])
        var words: [UInt64] = [0, .max, 0x2222_2222_2222_2222, 0x2121_2121_2121_2121, 0x2323_2323_2323_2323]
        for byte in 0...255 {
            for place in 0..<8 {
                words.append(0x6161_6161_6161_6161 & ~(0xFF << (8 * place)) | UInt64(byte) << (8 * place))
            }
        }
        for _ in 0..<20_000 { words.append(UInt64.random(in: .min ... .max, using: &generator)) }
        for word in words {
            let bytes = (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) }
            let marks = Tape.specialBytes(word)
            let first = bytes.firstIndex { special.contains($0) }
            #expect((marks == 0) == (first == nil), "\(word)")
            if let first { #expect(marks.trailingZeroBitCount >> 3 == first, "\(word)") }
        }
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "{\"a\":1}x", "\"a\nb\"", "tru", "{\"a\":}", "[1 2]", "-"])
    func refusesWhatIsNotJSON(text: String) {
        #expect(Document.parse(Array(text.utf8)) == nil, "\(text.debugDescription)")
    }
}

/// Inventory pages of a remote listing joined into one answer, as a local inventory gives it.
@Suite struct InventoryPagesTests {
    @Test func objectsOfEveryPageBeforeTheFirstPagesCounts() throws {
        let tail = #"],"total":3,"byKind":{"shm":{"count":3,"bytes":9}},"byMount":{}}"#
        let pages = [
            #"{"objects":[{"name":"a],\"total\":"},{"name":"b"}"# + tail,
            #"{"objects":[{"name":"c"}"# + tail,
            #"{"objects":["# + tail,
        ].map { Array($0.utf8) }
        let joined = String(decoding: InventoryPages.join(pages), as: UTF8.self)
        #expect(joined == #"{"objects":[{"name":"a],\"total\":"},{"name":"b"},{"name":"c"}"# + tail)
        let document = try #require(Document.parse(Array(joined.utf8)))
        #expect(document["objects"].array.compactMap { $0["name"].string } == [#"a],"total":"#, "b", "c"])
        #expect(document["total"].int == 3)
    }
}
