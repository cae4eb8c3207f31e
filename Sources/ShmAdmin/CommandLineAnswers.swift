import Doctor
import HTTPServer
import HostScan
import JSON
import Reclaim
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

    /// A name as one segment of a request's path, percent-encoded as the API's hrefs are.
    public static func pathSegment(_ name: String) -> String { Hrefs.segment(name) }

    /// One member of a section as `sectionList` writes it: local tables read the registry's sections
    /// through this instead of the JSON.
    public static func sectionMember(_ key: SectionMemberKey, of info: SectionInfo, mount: String) -> SectionMember {
        SectionJSON.member(key, of: info, mount: mount)
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

extension CommandLineAnswers {
    /// The whole host (API-HOST.md) for `shm-admin`'s local mode: one pass over /proc made when
    /// first asked (a command asks once), answered by the routes' own code — `ls --all` prints the
    /// bytes `GET /api/v1/inventory` sends, `mounts` `GET /api/v1/mounts`'s, `doctor`
    /// `GET /api/v1/doctor`'s, `show HREF` the detail at that href.
    ///
    /// The registry's view of processes comes from the same pass (`HostProcessView`), as the server's
    /// does, so version 1's members of the shared-memory directory's objects agree with the rest.
    ///
    /// A running server keeps a history (the `orphans` check's rise over the last hour) and notices
    /// unlinks as they happen (`deleted-while-mapped`); a one-shot pass has neither, so those two
    /// findings come only from a server.
    public final class Host: Sendable {
        public let registry: SectionRegistry
        let scanner: HostScanner
        var configuration: HostScanConfiguration { scanner.configuration }

        /// A registry of `shmDirectory` (and `stateDirectory`) whose mappers, holders and locks come
        /// from the host's pass, as the server's do: one walk of /proc answers the whole command.
        public init(shmDirectory: String, stateDirectory: String, procDirectory: String = "/proc")
            throws(Problem)
        {
            // As serve makes it: the scan names the directory as the registry does (no trailing slash).
            let trimmed =
                shmDirectory.count > 1 && shmDirectory.hasSuffix("/") ? String(shmDirectory.dropLast()) : shmDirectory
            let scanner = HostScanner(
                HostScanConfiguration(procDirectory: procDirectory, shmDirectory: trimmed, maximumAge: Host.oneCommand))
            do throws(SectionError) {
                registry = try SectionRegistry(
                    configuration: .init(
                        shmDirectory: shmDirectory, stateDirectory: stateDirectory, procRoot: procDirectory,
                        watchDirectory: false,
                        processView: { device in HostProcessView(host: scanner, device: device) }))
            } catch {
                throw CommandLineAnswers.problem(error)
            }
            self.scanner = scanner
        }

        /// One pass serves a whole command: its snapshot is not taken again while the command runs.
        static let oneCommand = 3600.0

        private var snapshot: HostSnapshot { scanner.snapshot() }

        /// `GET /api/v1/inventory` with every match (no page limit); `mount` is `MAJ:MIN` or `host`.
        public func inventory(kind: String?, mount: String?, orphan: Bool?, query: String?, uid: Int64?)
            throws(Problem) -> [UInt8]
        {
            try answering {
                let snapshot = self.snapshot
                var parsedKind: HostObject.Kind?
                if let kind {
                    guard let known = HostObject.Kind(rawValue: kind) else {
                        throw APIFailure(
                            Problems.badRequest(
                                "'kind' must be one of \(HostObject.Kind.allCases.map(\.rawValue).joined(separator: ", "))"
                            ))
                    }
                    parsedKind = known
                }
                let device = try mount.map { text throws(APIFailure) in try API.mountDevice(text, snapshot) }
                let filter = InventoryFilter(kind: parsedKind, orphan: orphan, mount: device, text: query, uid: uid)
                let answer = try InventoryJSON.of(snapshot, registry: registry, filter, limit: .max, offset: 0)
                return answer.jsonBytes(capacity: 256 + answer.objects.count * 640)
            }
        }

        /// `GET /api/v1/mounts`.
        public func mounts() -> [UInt8] { MountListJSON(mounts: snapshot.mounts).jsonBytes(capacity: 4096) }

        /// `GET /api/v1/doctor`, the checks configured as `serve --root-dir ROOT --grace GRACE` has them.
        public func doctor(rootDirectory: String, graceSeconds: Double) -> [UInt8] {
            let service = DoctorService(
                host: scanner, registry: registry,
                configuration: DoctorConfiguration.read(rootDirectory: rootDirectory, graceSeconds: graceSeconds))
            let (checkedAt, findings) = service.findings(snapshot)
            return DoctorReportJSON(checkedAt: checkedAt, findings: findings).jsonBytes(
                capacity: 1024 + findings.count * 2048)
        }

        /// Reclaim and its quarantine as `serve` (default `--grace` and `--quarantine-ttl`) has them,
        /// over the same state directory: its records are shared with a running server.
        private var quarantine: Quarantine {
            Quarantine(stateDirectory: registry.stateDirectory, scanner: scanner)
        }

        /// `POST /api/v1/reclaim`; `mounts` are `MAJ:MIN` or `host`, `olderThan` in seconds.
        public func reclaim(
            dryRun: Bool, olderThan: Double?, mode: String?, exclude: [String], mounts: [String]?,
            graceSeconds: Double
        ) throws(Problem) -> [UInt8] {
            try answering {
                var order = ReclaimRequest()
                order.dryRun = dryRun
                order.olderThan = olderThan
                order.exclude = exclude
                if let mode {
                    guard let known = ReclaimRequest.Mode(rawValue: mode) else {
                        throw APIFailure(
                            Problems.invalid("mode must be quarantine or delete, not '\(mode.prefix(32))'"))
                    }
                    order.mode = known
                }
                if let mounts {
                    var devices: Set<DeviceID> = []
                    for text in mounts {
                        if let device = try API.mountDevice(text, self.snapshot) { devices.insert(device) }
                    }
                    order.mounts = devices
                }
                let report = Reclaimer(quarantine: quarantine, graceSeconds: graceSeconds).run(order)
                return ReclaimReportJSON(report: report).jsonBytes(capacity: 256 + report.candidates.count * 700)
            }
        }

        /// `GET /api/v1/quarantine`.
        public func quarantineList() -> [UInt8] {
            let items = quarantine.list()
            return QuarantineListJSON(items: items).jsonBytes(capacity: 64 + items.count * 256)
        }

        /// `POST /api/v1/quarantine/{id}/restore`: the object as it is back under its name.
        public func restore(_ id: String) throws(Problem) -> [UInt8] {
            let item = try answering {
                try API.quarantined { () throws(QuarantineError) in try quarantine.restore(id) }
            }
            let mount = scanner.freshSnapshot().mount(item.mount)
            return try detail(
                href: mount.map { Hrefs.file(item.name, of: $0) }
                    ?? Hrefs.filesPrefix(of: item.mount) + Hrefs.segment(item.name))
        }

        /// `DELETE /api/v1/quarantine/{id}`.
        public func purge(_ id: String) throws(Problem) {
            _ = try answering { try API.quarantined { () throws(QuarantineError) in try quarantine.purge(id) } }
        }

        /// The detail at an href of the inventory: `/api/v1/sections/NAME`,
        /// `/api/v1/mounts/MOUNT/sections/NAME`, `/api/v1/sysv/IPC/SHMID` or `/api/v1/unlinked/DEV:INO`
        /// (segments percent-encoded, as hrefs are).
        public func detail(href: String) throws(Problem) -> [UInt8] {
            let path = href.split(separator: "?", maxSplits: 1).first.map(String.init) ?? href
            let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
                HTTPRequest.percentDecoded($0.utf8)
            }
            let mount = DeviceID(registry.directory.device).description
            func own(_ name: String) throws(Problem) -> [UInt8] {
                let section: SectionName
                let found: SectionDetail
                do throws(SectionError) {
                    section = try SectionName(name)
                    found = try registry.detail(named: section)
                } catch {
                    throw CommandLineAnswers.problem(error)
                }
                return CommandLineAnswers.detail(found, mount: mount, procDirectory: configuration.procDirectory)
            }
            guard segments.count >= 4, segments[0] == "api", segments[1] == "v1" else { throw notFound(href) }
            switch (segments[2], segments.count) {
            case ("sections", 4):
                return try own(segments[3])
            case ("mounts", 6) where segments[4] == "sections":
                let found = try answering { try API.mount(segments[3], self.snapshot) }
                if found.isServer { return try own(segments[5]) }
                return try answering {
                    try API.mountObjectDetail(
                        found, named: segments[5], self.snapshot, procDirectory: self.configuration.procDirectory
                    ).jsonBytes(capacity: 1024)
                }
            case ("sysv", 5):
                return try answering {
                    let segment = try API.segment(ipc: segments[3], shmid: segments[4], self.snapshot)
                    return try API.sysvDetail(segment, self.snapshot, procDirectory: self.configuration.procDirectory)
                        .jsonBytes(capacity: 1024)
                }
            case ("unlinked", 4):
                return try answering {
                    let seen = try API.unlinked(segments[3], self.snapshot)
                    return API.unlinkedDetail(seen, self.snapshot, procDirectory: self.configuration.procDirectory)
                        .jsonBytes(capacity: 1024)
                }
            default:
                throw notFound(href)
            }
        }

        private func notFound(_ href: String) -> Problem {
            let problem = ProblemDetails.notFound("no route for GET \(href)")
            return Problem(status: problem.status, title: problem.title, detail: problem.detail ?? "")
        }

        /// Runs `body`, the routes' failures turned into the problems the API answers.
        private func answering<T>(_ body: () throws -> T) throws(Problem) -> T {
            do {
                return try body()
            } catch let failure as APIFailure {
                let details = failure.problem
                throw Problem(status: details.status, title: details.title, detail: details.detail ?? "")
            } catch let error as SectionError {
                throw CommandLineAnswers.problem(error)
            } catch {
                throw Problem(status: 500, title: "Internal error", detail: "\(error)")
            }
        }
    }
}
