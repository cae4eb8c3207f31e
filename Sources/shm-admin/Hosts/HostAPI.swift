import SectionRegistry
import ShmAdmin

typealias Problem = CommandLineAnswers.Problem

/// What the shell subcommands ask of a host: the endpoints of API.md, answered by the registry in
/// this process (`LocalHost`) or by a server (`RemoteHost`). Answers are the endpoint's JSON bytes,
/// so `-J` prints them as they are and tables read the same members either way.
protocol HostAPI {
    /// `GET /api/v1/sections` with every match (no page limit).
    func sections(_ filter: SectionFilter) throws(Problem) -> [UInt8]
    /// The sections as table rows that read as the members of `sections(filter)`'s JSON.
    func sectionRows(_ filter: SectionFilter) throws(Problem) -> [Document]
    func section(_ name: String) throws(Problem) -> [UInt8]
    func create(_ request: CreateArguments) throws(Problem) -> [UInt8]
    func grow(_ name: String, to commit: Int64?, by amount: Int64?) throws(Problem) -> [UInt8]
    func reset(_ name: String, offset: Int64, length: Int64) throws(Problem) -> [UInt8]
    func adopt(_ name: String, reserve: Int64?, labels: [String: String]) throws(Problem) -> [UInt8]
    func delete(_ name: String, force: Bool) throws(Problem)
    func pages(_ name: String, from: Int64?, to: Int64?) throws(Problem) -> [UInt8]
    func write(_ name: String, offset: Int64, partial: Bool, lock: Bool, bytes: [UInt8]) throws(Problem) -> [UInt8]
    /// `GET …/data?format=hex|hexdump|base64`.
    func dump(_ name: String, offset: Int64, length: Int64?, format: CommandLineAnswers.DumpText)
        throws(Problem) -> [UInt8]
    /// `GET …/data?format=raw`, handed to `sink` piece by piece; `sink` answers false to stop.
    func dumpRaw(_ name: String, offset: Int64, length: Int64?, sink: (UnsafeRawBufferPointer) -> Bool)
        throws(Problem)
    /// Holds the section's lock while `body` runs; `.lockTimeout`'s problem when not had in time.
    func holdingLock(_ name: String, mode: LockMode, timeout: Double, _ body: () -> Int32) throws(Problem) -> Int32
    /// Every event's `data` until `handler` answers false.
    func events(_ handler: @escaping @Sendable ([UInt8]) -> Bool) throws(Problem)

    // The whole host (API-HOST.md).

    /// `GET /api/v1/inventory` with every match (no page limit).
    func inventory(_ filter: InventoryFilter) throws(Problem) -> [UInt8]
    /// `GET /api/v1/mounts`.
    func mounts() throws(Problem) -> [UInt8]
    /// `GET /api/v1/doctor`. Local mode reads the host's configuration under `rootDirectory` and
    /// counts orphans idle for `graceSeconds` (serve's `--root-dir` and `--grace`); a server has its own.
    func doctor(rootDirectory: String, graceSeconds: Double) throws(Problem) -> [UInt8]
    /// `GET HREF`: the detail of an object of any kind, at the href the inventory gives it.
    func object(_ href: String) throws(Problem) -> [UInt8]
    /// `POST /api/v1/reclaim`. Local mode counts orphans idle for `graceSeconds` (serve's `--grace`).
    func reclaim(_ order: ReclaimOrder) throws(Problem) -> [UInt8]
    /// `GET /api/v1/quarantine`.
    func quarantineList() throws(Problem) -> [UInt8]
    /// `POST /api/v1/quarantine/{id}/restore`: the object back under its name.
    func restore(_ id: String) throws(Problem) -> [UInt8]
    /// `DELETE /api/v1/quarantine/{id}`.
    func purge(_ id: String) throws(Problem)
}

/// `reclaim`'s arguments (API-HOST.md `POST /api/v1/reclaim`).
extension HostAPI {
    /// The sections of `sections(filter)` read from its JSON (a local host reads the registry's
    /// sections directly instead).
    func sectionRows(_ filter: SectionFilter) throws(Problem) -> [Document] { try sectionsJSON(filter) }

    /// The sections of `sections(filter)` read from its JSON, whose `value`s are the API's.
    func sectionsJSON(_ filter: SectionFilter) throws(Problem) -> [Document] {
        guard let document = Document.parse(try sections(filter)) else {
            throw Problem.local("Bad answer", "the listing is not JSON")
        }
        return document["sections"].array
    }
}

struct ReclaimOrder {
    var dryRun: Bool
    /// As given (`10m`, or seconds): sent as it is, parsed by local mode.
    var olderThan: String?
    var mode: String?
    var exclude: [String]
    var mounts: [String]?
    var graceSeconds: Double
}

/// The filters of `ls --all` (API-HOST.md `GET /api/v1/inventory`).
struct InventoryFilter {
    var kind: String?
    var mount: String?
    var orphan: Bool?
    var query: String?
    var uid: Int64?
}

/// The filters of `ls` (API.md `GET /api/v1/sections`).
struct SectionFilter {
    var managed: Bool?
    var kind: SectionKind?
    var orphan: Bool?
    var query: String?
}

/// `create`'s arguments, sizes already parsed.
struct CreateArguments {
    var name: String
    var reserve: Int64
    var commit: Int64?
    var namespace: Namespace
    var exclusive: Bool
    var labels: [String: String]
}

extension Problem {
    /// A failure that happened before any host answered (unreachable server, unreadable token file).
    static func local(_ title: String, _ detail: String) -> Problem { Problem(status: 0, title: title, detail: detail) }

    /// The line on standard error: `TITLE: DETAIL`, and the pids a refusal names.
    var line: String {
        var text = detail.isEmpty ? title : "\(title): \(detail)"
        if !pids.isEmpty { text += " (pids: \(pids.map(String.init).joined(separator: ", ")))" }
        if !holders.isEmpty {
            let named = holders.map { $0.pid < 0 ? "unknown pid (\($0.mode))" : "pid \($0.pid) (\($0.mode))" }
            text += " (held by " + named.joined(separator: ", ") + ")"
        }
        return text
    }
}
