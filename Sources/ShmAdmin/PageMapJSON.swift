import HTTPServer
import JSON
import SectionRegistry

/// A page map (`GET …/pages`): the runs of data, committed and reserved pages. A map can hold a
/// million runs; the writer starts with room for the longest text they can make, so it never grows.
struct PageMapJSON: JSONRepresentable, ResponseRepresentable {
    var map: PageMap

    /// The most the members around the runs take: their names (93 bytes) and five integers of up to 20
    /// characters.
    static let headBound = 93 + 5 * 20
    /// The most one run takes: `{"offset":N,"length":N,"state":"committed"},` with 20-character integers.
    static let runBound = 2 + 9 + 20 + 10 + 20 + 22

    func response() -> HTTPResponse {
        // 64 more: the writer asks for room for the longest integer before each one.
        .json(self, capacity: Self.headBound + map.runs.count * Self.runBound + 64)
    }

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("pageSize")
        json.int(map.pageSize)
        json.key("reserve")
        json.int(map.reserve)
        json.key("commit")
        json.int(map.commit)
        json.key("allocatedBytes")
        json.int(map.allocatedBytes)
        json.key("dataBytes")
        json.int(map.dataBytes)
        json.key("runs")
        json.beginArray()
        for run in map.runs {
            json.beginObject()
            json.key("offset")
            json.int(run.offset)
            json.key("length")
            json.int(run.length)
            json.key("state")
            switch run.state {
            case .data: json.string(literal: "data")
            case .committed: json.string(literal: "committed")
            case .reserved: json.string(literal: "reserved")
            }
            json.endObject()
        }
        json.endArray()
        json.key("truncated")
        json.bool(map.truncated)
        json.endObject()
    }
}
