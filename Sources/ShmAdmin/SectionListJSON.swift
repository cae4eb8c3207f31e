import HTTPServer
import JSON
import SectionRegistry

/// `{"sections":[…],"total":N}` (`GET /api/v1/sections`, and `shm-admin ls -J`).
enum SectionListJSON {
    /// The listing, its parts rendered on several cores and then joined: 10,000 sections are 4.45 MB of
    /// JSON. The route hands the writer's memory to the response (`finishShared`), the CLI prints it.
    static func write(_ sections: [SectionInfo], total: Int, mount: String) -> JSONWriter {
        let parts = stride(from: 0, to: sections.count, by: 1_024).map {
            sections[$0..<min($0 + 1_024, sections.count)]
        }
        let rendered = parts.concurrentMap(minimumCount: 2) { part in
            // 445 bytes a section with the version 1.1 members (a 4.45 MB listing): room for it
            // up front, not a copy of the part halfway.
            var json = JSONWriter(capacity: part.count * 512)
            for section in part { SectionJSON(section, mount: mount).write(to: &json) }
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
}
