import HTTPServer
import HostScan
import JSON
import SectionRegistry

/// What the endpoints answer, for `shm-admin`'s local mode: the same values the routes return
/// (`SectionJSON`, `PageMapJSON`, …) written by the same writer, so `shm-admin ls -J` here prints the
/// bytes `GET /api/v1/sections` sends (docs CLI.md "-J").
public enum CommandLineAnswers {
    /// The mount the API names a registry's sections with (`MAJ:MIN` of its directory): every
    /// section member version 1.1 adds depends on it.
    public static func mount(of registry: SectionRegistry) -> String { DeviceID(registry.directory.device).description }

    /// `GET /api/v1/sections`: `{"sections":[…],"total":N}`.
    public static func sectionList(_ sections: [SectionInfo], total: Int, mount: String) -> [UInt8] {
        SectionListJSON.write(sections, total: total, mount: mount).finish()
    }

    /// One section (grow, reset, adopt); a create adds `created`.
    public static func section(_ info: SectionInfo, created: Bool? = nil, mount: String) -> [UInt8] {
        SectionJSON(info, created: created, mount: mount).jsonBytes(capacity: 512)
    }

    /// `GET /api/v1/sections/{name}`, each mapper's memory read from smaps under `procDirectory`.
    public static func detail(_ detail: SectionDetail, mount: String, procDirectory: String = "/proc") -> [UInt8] {
        SectionDetailJSON(detail, mount: mount, procDirectory: procDirectory).jsonBytes(capacity: 1024)
    }

    /// `GET …/pages`.
    public static func pageMap(_ map: PageMap) -> [UInt8] {
        PageMapJSON(map: map).jsonBytes(capacity: PageMapJSON.headBound + map.runs.count * PageMapJSON.runBound + 64)
    }

    /// `PUT …/data`: `{"offset","written","requested"}`.
    public static func writeResult(_ result: WriteResult) -> [UInt8] { WriteResultJSON(result: result).jsonBytes() }

    /// One event's `data`, as the event stream sends it.
    public static func event(_ event: SectionEvent) -> [UInt8] { EventJSON(event: event).jsonBytes() }
    /// The text formats of `GET …/data` that read the bytes first.
    public enum DumpText: String, Sendable {
        case hex, hexdump, base64
    }

    /// `GET …/data?format=…` of a section: the same read (and refusal past the format's limit) and the
    /// same text as the route's.
    public static func dump(
        _ registry: SectionRegistry, named name: SectionName, offset: Int64, length: Int64?, format: DumpText
    ) throws(Problem) -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try DumpFormat(rawValue: format.rawValue)!.read(
                from: registry, name, view: nil, offset: offset, length: length)
        } catch let failure as APIFailure {
            let details = failure.problem
            throw Problem(status: details.status, title: details.title, detail: details.detail ?? "")
        } catch let error as SectionError {
            throw problem(error)
        } catch {
            throw Problem(status: 500, title: "Internal error", detail: "\(error)")
        }
        return dump(bytes, offset: offset, format: format)
    }

    /// `GET …/data?format=…` of bytes already read from `offset`.
    public static func dump(_ bytes: [UInt8], offset: Int64, format: DumpText) -> [UInt8] {
        switch format {
        case .hex: DumpFormat.hexRows(bytes, offset: offset).jsonBytes()
        case .base64: DumpFormat.base64(bytes, offset: offset).jsonBytes()
        case .hexdump: Hexdump.text(bytes, offset: offset)
        }
    }

    /// A registry error as the API reports it: the problem's title and detail, and the pids of
    /// mappers or lock holders it names.
    public static func problem(_ error: SectionError) -> Problem {
        let details = Problems.from(error)
        var problem = Problem(status: details.status, title: details.title, detail: details.detail ?? "")
        switch error.code {
        case .mappedByOthers(let pids): problem.pids = pids
        case .lockTimeout(let holders): problem.holders = holders.map { ($0.pid ?? -1, $0.mode.rawValue) }
        default: break
        }
        return problem
    }

    /// An RFC 9457 problem reduced to what the command line prints.
    public struct Problem: Error, Sendable {
        public var status: Int
        public var title: String
        public var detail: String
        /// `pids` of a refused delete.
        public var pids: [Int32] = []
        /// `holders` of a lock timeout: pid (-1 when unknown) and mode.
        public var holders: [(pid: Int32, mode: String)] = []

        public init(status: Int, title: String, detail: String) {
            self.status = status
            self.title = title
            self.detail = detail
        }
    }
}
