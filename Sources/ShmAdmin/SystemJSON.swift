import HTTPServer
import JSON
import SectionRegistry

/// The host's shared memory and the server (`GET /api/v1/system`).
struct SystemJSON: JSONRepresentable, ResponseRepresentable {
    var info: SystemInfo
    var version: String
    var uptimeSeconds: Double

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("pageSize")
        json.int(info.pageSize)
        json.key("shm")
        json.beginObject()
        json.key("path")
        json.string(info.shmPath)
        json.key("sizeBytes")
        json.int(info.shmSize)
        json.key("usedBytes")
        json.int(info.shmUsed)
        json.key("freeBytes")
        json.int(info.shmFree)
        json.endObject()
        json.key("shmmax")
        json.int(Int64(clamping: info.shmmax))
        json.key("shmall")
        json.int(Int64(clamping: info.shmall))
        json.key("kernel")
        json.string(info.kernel)
        json.key("version")
        json.string(version)
        json.key("uptimeSeconds")
        json.double(uptimeSeconds)
        let counts = info.counts
        json.key("counts")
        json.beginObject()
        json.key("sections")
        json.int(Int64(counts.sections))
        json.key("managed")
        json.int(Int64(counts.managed))
        json.key("foreign")
        json.int(Int64(counts.foreign))
        json.key("orphan")
        json.int(Int64(counts.orphan))
        json.key("semaphores")
        json.int(Int64(counts.semaphores))
        json.key("missing")
        json.int(Int64(counts.missing))
        json.endObject()
        json.endObject()
    }
}

/// What a write did (`PUT …/data`).
struct WriteResultJSON: JSONRepresentable, ResponseRepresentable {
    var result: WriteResult

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("offset")
        json.int(result.offset)
        json.key("written")
        json.int(result.written)
        json.key("requested")
        json.int(result.requested)
        json.endObject()
    }
}
