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
        let tree = try StrictJSON.parse(Array(Self.text.utf8))
        guard case .object(let members) = tree, case .array(let sections)? = members.first?.1 else {
            Issue.record("not the expected tree")
            return
        }
        #expect(section.value == sections.first)
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
