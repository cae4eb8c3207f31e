import HTTPServer
import JSON
import SectionRegistry

extension API {
    /// `GET …/data` of a section or of one of its views, in the asked format.
    func readData(_ request: HTTPRequest, view: String?) throws -> HTTPResponse {
        try offTheWorkersIfWaiting(request) { try self.readDataNow($0, view: view) }
    }

    /// `PUT …/data` of a section or of one of its views: writes the body at `offset`.
    func writeData(_ request: HTTPRequest, view: String?) throws -> HTTPResponse {
        try offTheWorkersIfWaiting(request) { try self.writeDataNow($0, view: view) }
    }

    /// With `?lock=true` and a `lockTimeoutMs` above 0 the request may wait for the section lock: it is
    /// answered by `.deferred` work, as a waiting `POST …/lock` is, so that it holds no worker.
    private func offTheWorkersIfWaiting(
        _ request: HTTPRequest, _ body: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse
    ) throws -> HTTPResponse {
        guard let timeout = try lockTimeout(Query(request: request)), timeout > 0 else { return try body(request) }
        return offTheWorkers(request) { try body(request) }
    }

    private func readDataNow(_ request: HTTPRequest, view: String?) throws -> HTTPResponse {
        let name = try sectionName(request)
        let query = Query(request: request)
        let format = try query.choice("format", DumpFormat.allCases.map(\.rawValue)).flatMap(DumpFormat.init) ?? .hex
        let offset = try query.integer("offset", default: 0, range: 0...Int64.max)!
        let length = try query.integer("length", range: 0...Int64.max)
        let lockTimeout = try self.lockTimeout(query)
        if format == .raw && view == nil {
            return try rawDump(request, name: name, offset: offset, length: length, lockTimeout: lockTimeout)
        }
        let read = { () throws -> [UInt8] in
            try format.read(from: self.registry, name, view: view, offset: offset, length: length)
        }
        return dumpResponse(format, try locked(name, .shared, lockTimeout, read), offset: offset, request: request)
    }

    /// Bytes already read, in `format`: every data endpoint's answer (sections, views, other mounts,
    /// System V, unlinked objects).
    func dumpResponse(_ format: DumpFormat, _ bytes: [UInt8], offset: Int64, request: HTTPRequest) -> HTTPResponse {
        switch format {
        case .hex: return .json(DumpFormat.hexRows(bytes, offset: offset))
        case .base64: return .json(DumpFormat.base64(bytes, offset: offset))
        case .hexdump:
            return HTTPResponse(
                status: 200, headers: ["Content-Type": "text/plain; charset=utf-8"],
                body: .stream(Hexdump(bytes, offset: offset)))
        case .raw: return ranged(bytes, request: request)
        }
    }

    /// Runs `body` under the section lock when a timeout is given, else directly.
    private func locked<T>(_ name: SectionName, _ mode: LockMode, _ timeout: Double?, _ body: () throws -> T) throws
        -> T
    {
        guard let timeout else { return try body() }
        var outcome: Result<T, any Error>?
        try registry.withLock(named: name, mode: mode, timeout: timeout) { () throws(SectionError) in
            outcome = Result { try body() }
        }
        return try outcome!.get()
    }

    /// A raw dump streamed from the object (see `FileRegion`), honouring `Range` inside the window.
    private func rawDump(_ request: HTTPRequest, name: SectionName, offset: Int64, length: Int64?, lockTimeout: Double?)
        throws -> HTTPResponse
    {
        let object = try registry.openForStreaming(named: name, lockTimeout: lockTimeout)
        let commit = object.commit
        let count = length ?? max(0, commit - offset)
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, offset <= commit, end <= commit else {
            throw APIFailure(
                Problems.rangeNotSatisfiable(
                    "the range at \(offset) of \(count) bytes is outside the commit (\(commit) bytes) of section '\(name)'",
                    commit: commit))
        }
        let part: RawPart
        switch RawPart.of(request, offset: offset, count: count, commit: commit) {
        case .unsatisfiable(let answer): return answer
        case .part(let found): part = found
        }
        let (status, start, size, headers) = (part.status, part.start, part.size, part.headers)
        var response: HTTPResponse
        if size <= DumpFormat.rawReadAtOnce {
            // Small: read it all now (under the lock the descriptor holds, if asked), so a truncation
            // racing the request is a clean 416, never a response that ends before its length.
            response = .bytes(status: status, try registry.read(named: name, offset: start, length: size))
        } else {
            // Large: streamed from the object (a duplicate of its descriptor, which the response owns; a lock
            // taken on the object goes with the open file); a truncation mid-stream closes the connection early.
            response = .file(
                status: status,
                try FileRegion(duplicating: object.descriptor, offset: UInt64(start), length: UInt64(size)))
        }
        for (key, value) in headers { response = response.adding(key, value) }
        return response
    }

    /// Raw bytes already in memory (a view's), honouring `Range`.
    private func ranged(_ bytes: [UInt8], request: HTTPRequest) -> HTTPResponse {
        switch ByteRange(header: request.headers["Range"], length: Int64(bytes.count)) {
        case .whole: return HTTPResponse.bytes(bytes).adding("Accept-Ranges", "bytes")
        case .unsatisfiable:
            return HTTPResponse.problem(
                Problems.rangeNotSatisfiable(
                    "the Range is outside the \(bytes.count) bytes asked for", commit: Int64(bytes.count))
            ).adding("Content-Range", "bytes */\(bytes.count)")
        case .part(let first, let last):
            return HTTPResponse.bytes(status: 206, Array(bytes[Int(first)...Int(last)]))
                .adding("Content-Range", "bytes \(first)-\(last)/\(bytes.count)")
        }
    }

    /// `PUT …/data?offset=N`: the body is the bytes.
    private func writeDataNow(_ request: HTTPRequest, view: String?) throws -> HTTPResponse {
        let name = try sectionName(request)
        let type = request.headers["Content-Type"]?.lowercased() ?? ""
        if type.hasPrefix("application/json") || type.contains("+json") {
            throw APIFailure(
                Problems.unsupportedMediaType("the body is the bytes to write: send application/octet-stream, not JSON")
            )
        }
        let query = Query(request: request)
        guard let offset = try query.integer("offset", range: 0...Int64.max) else {
            throw APIFailure(Problems.badRequest("query parameter 'offset' is required"))
        }
        let partial = try query.bool("partial") ?? false
        let result = try locked(name, .exclusive, try lockTimeout(query)) { () throws -> WriteResult in
            try request.body.withUnsafeBytes { buffer throws -> WriteResult in
                if let view {
                    return try self.registry.writeView(
                        named: name, id: view, offset: offset, bytes: buffer, partial: partial)
                }
                return try self.registry.write(named: name, offset: offset, bytes: buffer, partial: partial)
            }
        }
        return .json(WriteResultJSON(result: result))
    }

    /// Seconds to wait for the section lock when `?lock=true`, else nil.
    private func lockTimeout(_ query: Query) throws(APIFailure) -> Double? {
        // Checked with or without lock=true: a malformed parameter is a 400, never silently ignored.
        let milliseconds = try query.integer("lockTimeoutMs", default: 1000, range: 0...60_000)!
        guard try query.bool("lock") == true else { return nil }
        return Double(milliseconds) / 1000
    }
}

#if canImport(Glibc)
    import Glibc
#endif
