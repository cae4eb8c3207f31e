import JSON
import SectionRegistry
import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// The host answered by a running `shm-admin serve` over its HTTP API (API.md).
struct RemoteHost: HostAPI {
    let client: HTTPClient
    let url: String

    init(url: String, token: String?) throws(Problem) {
        guard let client = HTTPClient(url: url, token: token) else {
            throw Problem.local("Bad URL", "'\(url)' is not http://…, https://… or unix:PATH")
        }
        self.client = client
        self.url = url
    }

    /// Sends a request; a problem answer (or any status outside `expected`) becomes a `Problem`.
    private func call(
        _ method: String, _ path: String, json body: JSONText? = nil, raw: [UInt8]? = nil,
        expected: ClosedRange<Int> = 200...299, sink: ((UnsafeRawBufferPointer) -> Bool)? = nil,
        keepGoing: @escaping () -> Bool = { true }
    ) throws(Problem) -> [UInt8] {
        let response: HTTPClient.Response
        do throws(HTTPClient.TransferError) {
            response = try client.send(
                method, path, body: body.map(\.bytes) ?? raw,
                contentType: body != nil ? "application/json" : raw != nil ? "application/octet-stream" : nil,
                sink: sink, keepGoing: keepGoing)
        } catch {
            throw Problem.local(
                error.libraryMissing ? "remote mode needs libcurl" : "cannot reach \(url)", error.message)
        }
        guard expected.contains(response.status) else { throw Self.problem(response) }
        return response.body
    }

    /// An error answer as a problem: its title and detail, and the pids or holders it names.
    static func problem(_ response: HTTPClient.Response) -> Problem {
        guard let document = Document.parse(response.body), let title = document["title"].string else {
            return Problem(
                status: response.status, title: "HTTP \(response.status)",
                detail: "the server answered without a problem document")
        }
        var problem = Problem(status: response.status, title: title, detail: document["detail"].string ?? "")
        problem.pids = document["pids"].array.compactMap { $0.int.map { Int32(truncatingIfNeeded: $0) } }
        problem.holders = document["holders"].array.map {
            (Int32(truncatingIfNeeded: $0["pid"].int ?? -1), $0["mode"].string ?? "")
        }
        return problem
    }

    private func path(_ name: String, _ tail: String = "") -> String {
        "/api/v1/sections/" + URLText.percentEncoded(name) + tail
    }

    func sections(_ filter: SectionFilter) throws(Problem) -> [UInt8] {
        var query: [(String, String)] = [("limit", "10000")]
        if let managed = filter.managed { query.append(("managed", String(managed))) }
        if let kind = filter.kind { query.append(("kind", kind.rawValue)) }
        if let orphan = filter.orphan { query.append(("orphan", String(orphan))) }
        if let text = filter.query { query.append(("q", text)) }
        // Pages of 10,000 (the API's most), joined into one answer as a local listing gives it.
        var pages: [[UInt8]] = []
        var total = 0
        var offset = 0
        repeat {
            let page = try call("GET", "/api/v1/sections" + URLText.query(query + [("offset", String(offset))]))
            guard let document = Document.parse(page) else {
                throw Problem.local("Bad answer", "the listing from \(url) is not JSON")
            }
            total = Int(document["total"].int ?? 0)
            let count = document["sections"].array.count
            pages.append(page)
            offset += count
            if count == 0 { break }
        } while offset < total
        return pages.count == 1 ? pages[0] : ListingPages.join(pages, total: total)
    }

    func section(_ name: String) throws(Problem) -> [UInt8] { try call("GET", path(name)) }

    func create(_ request: CreateArguments) throws(Problem) -> [UInt8] {
        var body = JSONText()
        body.member("name", string: request.name)
        body.member("reserve", int: request.reserve)
        if let commit = request.commit { body.member("commit", int: commit) }
        body.member("namespace", string: request.namespace.rawValue)
        body.member("exclusive", bool: request.exclusive)
        body.member("labels", labels: request.labels)
        return try call("POST", "/api/v1/sections", json: body)
    }

    func grow(_ name: String, to commit: Int64?, by amount: Int64?) throws(Problem) -> [UInt8] {
        var body = JSONText()
        if let commit { body.member("commit", int: commit) } else { body.member("by", int: amount ?? 0) }
        return try call("POST", path(name, "/grow"), json: body)
    }

    func reset(_ name: String, offset: Int64, length: Int64) throws(Problem) -> [UInt8] {
        var body = JSONText()
        body.member("offset", int: offset)
        body.member("length", int: length)
        return try call("POST", path(name, "/reset"), json: body)
    }

    func adopt(_ name: String, reserve: Int64?, labels: [String: String]) throws(Problem) -> [UInt8] {
        var body = JSONText()
        if let reserve { body.member("reserve", int: reserve) }
        if !labels.isEmpty { body.member("labels", labels: labels) }
        return try call("POST", path(name, "/adopt"), json: body)
    }

    func delete(_ name: String, force: Bool) throws(Problem) {
        _ = try call("DELETE", path(name) + (force ? "?force=true" : ""))
    }

    func pages(_ name: String, from: Int64?, to: Int64?) throws(Problem) -> [UInt8] {
        var query: [(String, String)] = []
        if let from { query.append(("from", String(from))) }
        if let to { query.append(("to", String(to))) }
        return try call("GET", path(name, "/pages") + URLText.query(query))
    }

    func write(_ name: String, offset: Int64, partial: Bool, lock: Bool, bytes: [UInt8]) throws(Problem) -> [UInt8] {
        var query = [("offset", String(offset))]
        if partial { query.append(("partial", "true")) }
        if lock { query.append(("lock", "true")) }
        return try call("PUT", path(name, "/data") + URLText.query(query), raw: bytes)
    }

    private func dataQuery(_ offset: Int64, _ length: Int64?, _ format: String) -> String {
        var query = [("format", format), ("offset", String(offset))]
        if let length { query.append(("length", String(length))) }
        return URLText.query(query)
    }

    func dump(_ name: String, offset: Int64, length: Int64?, format: CommandLineAnswers.DumpText)
        throws(Problem) -> [UInt8]
    {
        try call("GET", path(name, "/data") + dataQuery(offset, length, format.rawValue))
    }

    func dumpRaw(_ name: String, offset: Int64, length: Int64?, sink: (UnsafeRawBufferPointer) -> Bool)
        throws(Problem)
    {
        try withoutActuallyEscaping(sink) { sink throws(Problem) in
            _ = try call("GET", path(name, "/data") + dataQuery(offset, length, "raw"), sink: sink)
        }
    }

    /// The longest lease the API gives (`ttlMs` up to an hour); there is no renewal.
    static let leaseSeconds = 3600.0

    func holdingLock(_ name: String, mode: LockMode, timeout: Double, _ body: () -> Int32) throws(Problem) -> Int32 {
        // A lease lasts at most an hour (API.md); a wait of at most a minute a request, repeated until `timeout`.
        let deadline = monotonicSeconds() + timeout
        var answer: [UInt8]
        while true {
            let left = max(0, deadline - monotonicSeconds())
            var request = JSONText()
            request.member("mode", string: mode.rawValue)
            request.member("timeoutMs", int: Int64(min(60_000, (left * 1000).rounded())))
            request.member("ttlMs", int: Int64(Self.leaseSeconds * 1000))
            do throws(Problem) {
                answer = try call("POST", path(name, "/lock"), json: request)
                break
            } catch {
                if error.status == 423 && monotonicSeconds() < deadline - 0.001 { continue }
                throw error
            }
        }
        guard let lease = Document.parse(answer)?["lease"].string else {
            throw Problem.local("Bad answer", "the lock answer from \(url) names no lease")
        }
        let started = monotonicSeconds()
        let status = body()
        if monotonicSeconds() - started >= Self.leaseSeconds {
            Terminal.error("the lock's lease on \(url) ended after an hour, before the command did")
        }
        _ = try? call("DELETE", path(name, "/lock/" + URLText.percentEncoded(lease)))
        return status
    }

    func events(_ handler: @escaping @Sendable ([UInt8]) -> Bool) throws(Problem) {
        var parser = EventStreamParser()
        var stopped = false
        _ = try call(
            "GET", "/api/v1/events",
            sink: { bytes in
                for data in parser.feed(bytes) where !handler(data) {
                    stopped = true
                    return false
                }
                return true
            },
            keepGoing: { !stopped && !Interrupt.requested && !Terminal.readerGone })
    }
}

extension RemoteHost {
    func inventory(_ filter: InventoryFilter) throws(Problem) -> [UInt8] {
        var query: [(String, String)] = [("limit", String(Self.inventoryPage))]
        if let kind = filter.kind { query.append(("kind", kind)) }
        if let mount = filter.mount { query.append(("mount", mount)) }
        if let orphan = filter.orphan { query.append(("orphan", String(orphan))) }
        if let text = filter.query { query.append(("q", text)) }
        if let uid = filter.uid { query.append(("uid", String(uid))) }
        // Pages of the API's most, joined into one answer as a local inventory gives it.
        var pages: [[UInt8]] = []
        var offset = 0
        while true {
            let page = try call("GET", "/api/v1/inventory" + URLText.query(query + [("offset", String(offset))]))
            guard let document = Document.parse(page) else {
                throw Problem.local("Bad answer", "the inventory from \(url) is not JSON")
            }
            pages.append(page)
            let count = document["objects"].array.count
            offset += count
            if count == 0 || offset >= Int(document["total"].int ?? 0) { break }
        }
        return pages.count == 1 ? pages[0] : InventoryPages.join(pages)
    }

    /// The most objects `GET /api/v1/inventory` gives in one answer.
    static let inventoryPage = 100_000

    func mounts() throws(Problem) -> [UInt8] { try call("GET", "/api/v1/mounts") }

    func doctor(rootDirectory: String, graceSeconds: Double) throws(Problem) -> [UInt8] {
        try call("GET", "/api/v1/doctor")
    }

    func object(_ href: String) throws(Problem) -> [UInt8] { try call("GET", href) }

    func reclaim(_ order: ReclaimOrder) throws(Problem) -> [UInt8] {
        var body = JSONText()
        body.member("dryRun", bool: order.dryRun)
        if let olderThan = order.olderThan {
            if let seconds = Int64(olderThan) {
                body.member("olderThan", int: seconds)
            } else {
                body.member("olderThan", string: olderThan)
            }
        }
        if let mode = order.mode { body.member("mode", string: mode) }
        if !order.exclude.isEmpty { body.member("exclude", strings: order.exclude) }
        if let mounts = order.mounts { body.member("mounts", strings: mounts) }
        return try call("POST", "/api/v1/reclaim", json: body)
    }

    func quarantineList() throws(Problem) -> [UInt8] { try call("GET", "/api/v1/quarantine") }

    func restore(_ id: String) throws(Problem) -> [UInt8] {
        try call("POST", "/api/v1/quarantine/" + URLText.percentEncoded(id) + "/restore")
    }

    func purge(_ id: String) throws(Problem) {
        _ = try call("DELETE", "/api/v1/quarantine/" + URLText.percentEncoded(id))
    }
}

/// Inventory pages joined: the first page's objects, then each next page's, before the first
/// page's `total`, `byKind` and `byMount` (every page has the same). A name's quote is escaped in
/// JSON, so `],"total":` only occurs where the objects end.
enum InventoryPages {
    static func join(_ pages: [[UInt8]]) -> [UInt8] {
        let head = Array("{\"objects\":[".utf8)
        let tail = Array("],\"total\":".utf8)
        func items(_ page: [UInt8]) -> ArraySlice<UInt8>? {
            guard page.starts(with: head), let end = lastRange(of: tail, in: page) else { return nil }
            return page[head.count..<end]
        }
        guard let first = pages.first, let end = lastRange(of: tail, in: first) else { return pages.first ?? [] }
        var out = head
        var empty = true
        for page in pages {
            guard let objects = items(page), !objects.isEmpty else { continue }
            if !empty { out.append(UInt8(ascii: ",")) }
            out += objects
            empty = false
        }
        return out + first[end...]
    }

    private static func lastRange(of needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var start = bytes.count - needle.count
        while start >= 0 {
            if bytes[start..<start + needle.count].elementsEqual(needle) { return start }
            start -= 1
        }
        return nil
    }
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Server-Sent Events read from a byte stream: the `data` of each event, as it completes.
struct EventStreamParser {
    private var line: [UInt8] = []
    private var data: [UInt8]?

    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [[UInt8]] {
        var done: [[UInt8]] = []
        for byte in bytes {
            if byte != 10 {
                line.append(byte)
                continue
            }
            if line.last == 13 { line.removeLast() }
            if line.isEmpty {
                if let data { done.append(data) }
                data = nil
            } else if line.starts(with: Array("data:".utf8)) {
                var value = line.dropFirst(5)
                if value.first == 32 { value = value.dropFirst() }
                if data == nil { data = Array(value) } else { data! += [10] + value }
            }
            line.removeAll(keepingCapacity: true)
        }
        return done
    }
}

/// Listings of more than one page joined: `{"sections":[` page, page, … `],"total":N}`.
enum ListingPages {
    static func join(_ pages: [[UInt8]], total: Int) -> [UInt8] {
        let head = Array("{\"sections\":[".utf8)
        var out = head
        var first = true
        for page in pages {
            guard let close = page.lastIndex(of: UInt8(ascii: "]")), page.starts(with: head) else { continue }
            let items = page[head.count..<close]
            if items.isEmpty { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            out += items
            first = false
        }
        return out + Array("],\"total\":\(total)}".utf8)
    }
}

/// Request text the remote mode builds: query strings, percent-encoded names, small JSON bodies.
enum URLText {
    /// Everything but RFC 3986's unreserved characters percent-encoded, as the API's hrefs are.
    static func percentEncoded(_ text: String) -> String { CommandLineAnswers.pathSegment(text) }

    static func query(_ items: [(String, String)]) -> String {
        items.isEmpty
            ? "" : "?" + items.map { percentEncoded($0.0) + "=" + percentEncoded($0.1) }.joined(separator: "&")
    }
}

/// A request body: a flat JSON object built member by member, written by the one JSON writer.
struct JSONText {
    private var members: [(String, JSONValue)] = []

    var bytes: [UInt8] { JSONValue.object(members).jsonBytes() }

    mutating func member(_ key: String, string: String) { members.append((key, .string(string))) }
    mutating func member(_ key: String, int: Int64) { members.append((key, .int(int))) }
    mutating func member(_ key: String, bool: Bool) { members.append((key, .bool(bool))) }
    mutating func member(_ key: String, strings: [String]) {
        members.append((key, .array(strings.map { .string($0) })))
    }
    mutating func member(_ key: String, labels: [String: String]) {
        members.append((key, .object(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
    }
}
