import HTTPServer
import HostScan
import SectionRegistry

/// The dumps of API-HOST.md (admin): another mount's object, a memfd or unlinked object
/// (`API+Unlinked`), a System V segment — the formats, limits and range rules of section dumps.
extension API {
    /// The server's own mount: as `GET /api/v1/sections/{name}/data`. Another mount's object:
    /// opened read-only relative to its directory, checked to be the file the scan saw.
    func mountSectionData(_ request: HTTPRequest) throws -> HTTPResponse {
        let (mount, _) = try requestedMount(request)
        if mount.isServer { return try readData(request, view: nil) }
        let name = request.parameter("name") ?? ""
        guard let entry = mount.entries.first(where: { $0.name == name }),
            let object = ObjectReader.open(name, in: mount, inode: entry.inode)
        else {
            throw APIFailure(
                Problems.make(
                    404, "not-found", "Not found", "mount \(mount.device) has no object '\(name.prefix(256))'"))
        }
        return try dump(request, object)
    }

    /// The server's own mount: as `GET /api/v1/sections/{name}/pages`. Another mount's object:
    /// its data extents and holes (SEEK_DATA/SEEK_HOLE on a read-only descriptor); its reserve is
    /// its size (it has no record).
    func mountSectionPages(_ request: HTTPRequest) throws -> HTTPResponse {
        let (mount, _) = try requestedMount(request)
        if mount.isServer { return try pages(request).response() }
        let query = Query(request: request)
        let from = try query.integer("from", range: 0...Int64.max)
        let to = try query.integer("to", range: 0...Int64.max)
        if let from, let to, from > to { throw APIFailure(Problems.badRequest("'from' must not be past 'to'")) }
        let maxRuns = Int(try query.integer("maxRuns", default: 10_000, range: 1...1_000_000)!)
        let name = request.parameter("name") ?? ""
        guard let entry = mount.entries.first(where: { $0.name == name }),
            let object = ObjectReader.open(name, in: mount, inode: entry.inode)
        else {
            throw APIFailure(
                Problems.make(
                    404, "not-found", "Not found", "mount \(mount.device) has no object '\(name.prefix(256))'"))
        }
        let start = from ?? 0
        let (extents, truncated) = try object.extents(from: start, to: to ?? object.size, maxRuns: maxRuns)
        let whole = start == 0 && (to ?? object.size) >= object.size && !truncated
        let dataBytes = try (whole ? extents : object.extents(from: 0, to: object.size, maxRuns: .max).runs)
            .reduce(Int64(0)) { $0 + ($1.data ? $1.length : 0) }
        let map = PageMap(
            pageSize: Int64(sysconf(Int32(_SC_PAGESIZE))), reserve: object.size, commit: object.size,
            allocatedBytes: entry.facts.allocatedBytes, dataBytes: dataBytes,
            runs: extents.map { PageRun(offset: $0.offset, length: $0.length, state: $0.data ? .data : .committed) },
            truncated: truncated)
        return PageMapJSON(map: map).response()
    }

    /// Attached read-only by the server for the copy and detached at once; every format (raw too)
    /// is copied whole before it is sent, so at most 64 MiB a request for raw, as through a view.
    func sysvData(_ request: HTTPRequest) throws -> HTTPResponse {
        let snapshot = host.snapshot()
        let segment = try requestedSegment(request, snapshot)
        let (format, offset, count) = try dumpWindow(request, size: segment.size, rawLimit: DumpFormat.viewRawLimit)
        let member = snapshot.processes.filter { $0.value.ipc == segment.ipc }.keys.min()
        guard
            let bytes = try ObjectReader.readSegment(
                shmid: segment.shmid, ipc: segment.ipc, own: snapshot.ownIPCNamespace, member: member, offset: offset,
                count: Int(count), procDirectory: host.configuration.procDirectory)
        else {
            throw APIFailure(Problems.make(404, "not-found", "Not found", "System V segment \(segment.shmid) is gone"))
        }
        return dumpResponse(format, bytes, offset: offset, request: request)
    }

    /// An opened object in the asked format: raw streams any size (read with pread as it is sent,
    /// past 1 MiB), the others are read whole within their limits.
    func dump(_ request: HTTPRequest, _ object: OpenedHostObject) throws -> HTTPResponse {
        let (format, offset, count) = try dumpWindow(request, size: object.size, rawLimit: nil)
        guard format == .raw else {
            return dumpResponse(
                format, try object.read(offset: offset, count: Int(count)), offset: offset, request: request)
        }
        let part: RawPart
        switch RawPart.of(request, offset: offset, count: count, commit: object.size) {
        case .unsatisfiable(let answer): return answer
        case .part(let found): part = found
        }
        let (status, start, size, headers) = (part.status, part.start, part.size, part.headers)
        var response: HTTPResponse
        if size <= DumpFormat.rawReadAtOnce {
            // Read now: an object truncated meanwhile gives a clean short read, never a response
            // that ends before its length.
            let bytes = try object.read(offset: start, count: Int(size))
            guard bytes.count == Int(size) else {
                let now: Int64 = start + Int64(bytes.count)
                throw APIFailure(Problems.rangeNotSatisfiable("the object shrank while it was read", commit: now))
            }
            response = .bytes(status: status, bytes)
        } else {
            // Streamed with pread, never from a mapping: reading a hole of a tmpfs file through a
            // mapping allocates it, which would fill another container's small /dev/shm.
            response = HTTPResponse(
                status: status, headers: ["Content-Type": "application/octet-stream"],
                body: .stream(PreadBody(object: object, offset: start, length: UInt64(size))))
        }
        for (key, value) in headers { response = response.adding(key, value) }
        return response
    }

    /// `format`, `offset` and the byte count of a dump of an object of `size` bytes: 416 outside it,
    /// 422 past the format's limit (`rawLimit` for raw, none when nil).
    private func dumpWindow(_ request: HTTPRequest, size: Int64, rawLimit: Int64?) throws -> (DumpFormat, Int64, Int64)
    {
        let query = Query(request: request)
        let format = try query.choice("format", DumpFormat.allCases.map(\.rawValue)).flatMap(DumpFormat.init) ?? .hex
        let offset = try query.integer("offset", default: 0, range: 0...Int64.max)!
        let count = try query.integer("length", range: 0...Int64.max) ?? max(0, size - offset)
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, offset <= size, end <= size else {
            throw APIFailure(
                Problems.rangeNotSatisfiable(
                    "the range at \(offset) of \(count) bytes is outside the object (\(size) bytes)", commit: size))
        }
        if let limit = format == .raw ? rawLimit : format.limit, count > limit {
            throw APIFailure(
                Problems.make(
                    422, "invalid-request", "Invalid request",
                    "\(format.rawValue) dumps of this object are limited to \(ByteSize.describe(limit)) a request"))
        }
        return (format, offset, count)
    }
}

/// A raw dump read with pread(2) as the client takes it. A short read (the object shrank) ends the
/// sending: the connection closes after the bytes that were there.
struct PreadBody: StreamedBody {
    let object: OpenedHostObject
    let offset: Int64
    let length: UInt64?

    init(object: OpenedHostObject, offset: Int64, length: UInt64) {
        self.object = object
        self.offset = offset
        self.length = length
    }

    func makeWriter() -> any BodyWriter { PreadWriter(self) }
}

final class PreadWriter: BodyWriter {
    private let body: PreadBody
    private var done: UInt64 = 0

    init(_ body: PreadBody) { self.body = body }

    func write(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let left = (body.length ?? 0) - done
        if left == 0 { return 0 }
        let count = Int(min(UInt64(buffer.count), left))
        guard let got = try? body.object.read(offset: body.offset + Int64(done), into: buffer, count: count), got > 0
        else { return nil }
        done += UInt64(got)
        return got
    }
}

#if canImport(Glibc)
    import Glibc
#endif
