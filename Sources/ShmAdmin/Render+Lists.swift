import HTTPServer
import SectionRegistry

extension Render {
    /// `{"sections":[…],"total":N}` (`GET /api/v1/sections`, and `shm-admin ls -J`).
    static func sectionList(_ sections: [SectionInfo], total: Int) -> JSONWriter {
        // Parts of the array rendered on several cores, then joined: 10,000 sections are 3 MB of JSON.
        let parts = stride(from: 0, to: sections.count, by: 1_024).map {
            sections[$0..<min($0 + 1_024, sections.count)]
        }
        let rendered = parts.concurrentMap(minimumCount: 2) { part in
            var json = JSONWriter(capacity: part.count * 360)
            for section in part {
                json.beginObject()
                Render.sectionMembers(section, to: &json)
                json.endObject()
            }
            return json.finish()
        }
        var json = JSONWriter(capacity: 64 + rendered.reduce(0) { $0 + $1.count + 1 })
        json.beginObject()
        json.key("sections")
        json.beginArray()
        for part in rendered { json.fragment(part) }
        json.endArray()
        json.key("total")
        json.int(Int64(total))
        json.endObject()
        return json
    }

    /// An event's `data` on the event stream (and a line of `shm-admin watch -J`): id, type, section,
    /// source, time, then the details in the order of their names.
    static func event(_ event: SectionEvent) -> [UInt8] {
        var members: [(String, JSONValue)] = [
            ("id", .int(Int64(event.id))), ("type", .string(event.kind.rawValue)),
            ("section", event.section.map { .string($0) } ?? .null), ("source", .string(event.source.rawValue)),
            ("time", .string(Render.timestamp(event.time))),
        ]
        for (key, value) in event.details.sorted(by: { $0.key < $1.key }) {
            members.append((key, Int64(value).map { .int($0) } ?? .string(value)))
        }
        return JSONValue.object(members).serialized()
    }
}
