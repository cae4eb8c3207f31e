import Foundation
import JSON
import Logging
import Testing

@testable import HTTPServer
@testable import SectionRegistry
@testable import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// The repository's root, found from this file (`Tests/ShmAdminTests/Support.swift`), not from the
/// current directory.
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// An `API` over the real `/dev/shm`, driven in-process through its router (no socket).
///
/// Every object it touches carries a unique per-run prefix `t-api-<pid>-<random>-`; `close()` (also run
/// by deinit) unlinks every entry of `/dev/shm` whose name contains it — `NAME`, `sem.NAME`, the
/// registry's temporaries — and removes the private state directory, so a failing test leaves nothing
/// behind. Use it as `let box = try APIHarness(); defer { box.close() }`.
final class APIHarness: @unchecked Sendable {
    static let shm = "/dev/shm"
    static let adminToken = "admin-0123456789abcdef0123456789abcdef"
    static let readToken = "read-0123456789abcdef0123456789abcdef"
    /// One broadcaster for every harness: each one runs a keep-alive timer.
    static let events = EventBroadcaster()

    let prefix: String
    let stateDirectory: String
    let registry: SectionRegistry
    let api: API
    let router: Router
    private var closed = false

    /// `embedded`: serve the dashboard and openapi.json built into the binary, not the checkout's files.
    init(
        readToken: String? = nil, loopbackBind: Bool = true, embedded: Bool = false,
        expensivePass: Double = API.expensivePass
    ) throws {
        _ = sweptCrashedRuns
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        prefix = "t-api-\(getpid())-\(token)-"
        stateDirectory = "/tmp/\(prefix)state"
        registry = try SectionRegistry(
            configuration: .init(stateDirectory: stateDirectory, scanMaximumAge: 0.05, watchDirectory: false))
        api = API(
            registry: registry,
            security: Security(adminToken: Self.adminToken, readToken: readToken, loopbackBind: loopbackBind),
            // No cap: another run's thousands of objects in /dev/shm must not push this one's series out.
            metrics: Metrics(sectionCap: .max), events: Self.events,
            staticDirectory: embedded ? nil : repositoryRoot + "/static",
            openAPIPath: embedded ? nil : repositoryRoot + "/openapi.json", version: "0.0.0-test",
            logger: Logger(label: "shm-admin-test"), expensivePass: expensivePass)
        router = api.router()
    }

    deinit { close() }

    /// A section name inside the harness.
    func name(_ suffix: String) -> String { prefix + suffix }

    func path(_ suffix: String) -> String { Self.shm + "/" + prefix + suffix }

    /// Entries of /dev/shm that belong to this harness.
    func leftovers() -> [String] {
        let core = String(prefix.dropLast())
        return ((try? FileManager.default.contentsOfDirectory(atPath: Self.shm)) ?? []).filter { $0.contains(core) }
    }

    func close() {
        guard !closed else { return }
        closed = true
        registry.close()
        for name in leftovers() { unlink(Self.shm + "/" + name) }
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }

    /// One request through the router, as the server would hand it over (decoded path, Host set).
    func call(
        _ method: String, _ path: String, query: [(String, String)] = [], json: String? = nil, body: [UInt8]? = nil,
        contentType: String? = nil, token: String? = adminToken, headers: [(String, String)] = [],
        host: String? = "127.0.0.1:8080", resolvingDeferred: Bool = true
    ) -> HTTPResponse {
        var fields: [(String, String)] = []
        if let host { fields.append(("Host", host)) }
        if let token { fields.append(("Authorization", "Bearer \(token)")) }
        if json != nil {
            fields.append(("Content-Type", contentType ?? "application/json"))
        } else if let contentType {
            fields.append(("Content-Type", contentType))
        }
        fields += headers
        let request = HTTPRequest(
            method: method, path: path, query: QueryParameters(query), headers: HTTPHeaders(fields),
            body: json.map { Array($0.utf8) } ?? body ?? [])
        // What the server does for a deferred answer (a lock wait), done on this thread.
        let response = router.respond(to: request)
        return resolvingDeferred ? response.resolvingDeferred() : response
    }

    /// `POST /api/v1/sections` for `name(suffix)`; expects a 201.
    @discardableResult
    func create(
        _ suffix: String, reserve: String = "\"64KiB\"", commit: String? = "8192",
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> JSONValue {
        let quoted = String(decoding: JSONValue.string(name(suffix)).serialized(), as: UTF8.self)
        var members = ["\"name\":\(quoted)", "\"reserve\":\(reserve)"]
        if let commit { members.append("\"commit\":\(commit)") }
        let response = call("POST", "/api/v1/sections", json: "{\(members.joined(separator: ","))}")
        #expect(response.status == 201, "\(response.text)", sourceLocation: sourceLocation)
        return response.json
    }

    /// Makes a plain file in /dev/shm (a foreign object, or a fake semaphore) of `size` bytes.
    func makeFile(_ entry: String, size: Int, mode: mode_t = 0o600) throws {
        let fd = open(Self.shm + "/" + entry, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw HarnessError("open \(entry): errno \(errno)") }
        defer { Glibc.close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else { throw HarnessError("ftruncate \(entry): errno \(errno)") }
    }
}

/// What earlier runs left when they crashed (their process is gone): `t-api-PID-…` entries of
/// /dev/shm and /tmp, removed once per run. A live run's entries are never touched.
let sweptCrashedRuns: Void = {
    for directory in [APIHarness.shm, "/tmp"] {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            let name = entry.hasPrefix("sem.") ? entry.dropFirst(4) : Substring(entry)
            guard name.hasPrefix("t-api-"), let pid = Int32(name.dropFirst(6).prefix { $0 != "-" }), pid > 0,
                pid != getpid(), kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            try? FileManager.default.removeItem(atPath: directory + "/" + entry)
        }
    }
}()

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Reading responses

extension HTTPResponse {
    var text: String { String(decoding: bodyBytes, as: UTF8.self) }

    /// The body parsed as JSON; `.null` when it is not JSON (the expectations then fail visibly).
    var json: JSONValue { (try? StrictJSON.parse(bodyBytes)) ?? .null }

    /// The problem `type` of a problem+json response.
    var problemType: String? {
        headers["Content-Type"] == HTTPResponse.problemContentType ? json["type"]?.string : nil
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    var int: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    var double: Double? {
        switch self {
        case .double(let value): return value
        case .int(let value): return Double(value)
        default: return nil
        }
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    var keys: [String] {
        if case .object(let members) = self { return members.map(\.0) }
        return []
    }
}

// MARK: - Facts read straight from the kernel

func fileStatus(_ path: String) -> stat? {
    var info = stat()
    return stat(path, &info) == 0 ? info : nil
}

/// `count` bytes at `offset` of an open descriptor (pread), outside the code under test.
func preadAll(_ fd: Int32, offset: Int64, count: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    var done = 0
    while done < count {
        let got = bytes.withUnsafeMutableBytes { buffer in
            pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
        }
        if got <= 0 { break }
        done += got
    }
    return Array(bytes[0..<done])
}

func readBytes(_ path: String, offset: Int64, count: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return preadAll(fd, offset: offset, count: count)
}

/// Runs `executable` with `arguments`, its output going to a temporary file; waits at most `timeout`
/// seconds (then kills it and throws). Returns the exit status and the bytes it printed.
func run(_ executable: String, _ arguments: [String], timeout: Double = 20) throws -> (status: Int32, output: [UInt8]) {
    let outputPath = "/tmp/t-api-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-out"
    guard FileManager.default.createFile(atPath: outputPath, contents: nil) else {
        throw HarnessError("cannot create \(outputPath)")
    }
    defer { unlink(outputPath) }
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    defer { try? output.close() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = FileHandle.standardError
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(2_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw HarnessError("\(executable) \(arguments) did not finish within \(timeout) s")
    }
    process.waitUntilExit()
    let bytes = FileManager.default.contents(atPath: outputPath).map { [UInt8]($0) } ?? []
    return (process.terminationStatus, bytes)
}

let KiB: Int64 = 1 << 10
let MiB: Int64 = 1 << 20
