import SectionRegistry
import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// The host answered from this process through the `SectionRegistry` core, as `serve` answers it:
/// same shared-memory directory, same state directory, same renderers (`CommandLineAnswers`).
struct LocalHost: HostAPI {
    let registry: SectionRegistry
    /// The mount the API names these sections with (`MAJ:MIN`).
    let mount: String
    /// The whole host, for the commands about it (`wholeHost`): nil for the others, whose registry
    /// walks /proc for its own objects only.
    let host: CommandLineAnswers.Host?

    init(shmDirectory: String, stateDirectory: String, watch: Bool, wholeHost: Bool = false) throws(Problem) {
        if wholeHost {
            let host = try CommandLineAnswers.Host(shmDirectory: shmDirectory, stateDirectory: stateDirectory)
            self.host = host
            registry = host.registry
        } else {
            host = nil
            do throws(SectionError) {
                registry = try SectionRegistry(
                    configuration: .init(
                        shmDirectory: shmDirectory, stateDirectory: stateDirectory, watchDirectory: watch))
            } catch {
                throw CommandLineAnswers.problem(error)
            }
        }
        mount = CommandLineAnswers.mount(of: registry)
    }

    /// The whole host's answers; the commands that need them open the host with `wholeHost`.
    private func wholeHost() throws(Problem) -> CommandLineAnswers.Host {
        guard let host else { throw Problem.local("Internal error", "the host was opened without its whole-host view") }
        return host
    }

    /// Runs `body`, the registry's errors turned into the problems the API would answer.
    private func answer<T>(_ body: () throws(SectionError) -> T) throws(Problem) -> T {
        do throws(SectionError) { return try body() } catch { throw CommandLineAnswers.problem(error) }
    }

    private func named(_ name: String) throws(Problem) -> SectionName {
        try answer { () throws(SectionError) in try SectionName(name) }
    }

    private var creator: String { "cli pid \(getpid())" }

    func sections(_ filter: SectionFilter) throws(Problem) -> [UInt8] {
        let (sections, total) = try list(filter)
        return CommandLineAnswers.sectionList(sections, total: total, mount: mount)
    }

    /// The registry's sections as rows that read as their JSON reads, without the JSON.
    func sectionRows(_ filter: SectionFilter) throws(Problem) -> [Document] {
        try list(filter).sections.map { Document(section: $0, mount: mount) }
    }

    private func list(_ filter: SectionFilter) throws(Problem) -> (sections: [SectionInfo], total: Int) {
        try answer { () throws(SectionError) in
            try registry.list(
                ListFilter(
                    managed: filter.managed, kind: filter.kind, orphan: filter.orphan, query: filter.query,
                    limit: Int.max))
        }
    }

    func section(_ name: String) throws(Problem) -> [UInt8] {
        let name = try named(name)
        return CommandLineAnswers.detail(
            try answer { () throws(SectionError) in try registry.detail(named: name) }, mount: mount)
    }

    func create(_ request: CreateArguments) throws(Problem) -> [UInt8] {
        let name = try named(request.name)
        let (info, created) = try answer { () throws(SectionError) in
            try registry.create(
                CreateRequest(
                    name: name, reserve: request.reserve, commit: request.commit, namespace: request.namespace,
                    exclusive: request.exclusive, labels: request.labels, creator: creator))
        }
        return CommandLineAnswers.section(info, created: created, mount: mount)
    }

    func grow(_ name: String, to commit: Int64?, by amount: Int64?) throws(Problem) -> [UInt8] {
        let name = try named(name)
        let target: GrowTarget = commit.map { .commit($0) } ?? .by(amount ?? 0)
        return CommandLineAnswers.section(
            try answer { () throws(SectionError) in try registry.grow(named: name, target) }, mount: mount)
    }

    func reset(_ name: String, offset: Int64, length: Int64) throws(Problem) -> [UInt8] {
        let name = try named(name)
        return CommandLineAnswers.section(
            try answer { () throws(SectionError) in try registry.reset(named: name, offset: offset, length: length) },
            mount: mount)
    }

    func adopt(_ name: String, reserve: Int64?, labels: [String: String]) throws(Problem) -> [UInt8] {
        let name = try named(name)
        return CommandLineAnswers.section(
            try answer { () throws(SectionError) in
                try registry.adopt(named: name, reserve: reserve, labels: labels, creator: creator)
            }, mount: mount)
    }

    func delete(_ name: String, force: Bool) throws(Problem) {
        let name = try named(name)
        try answer { () throws(SectionError) in try registry.delete(named: name, force: force) }
    }

    func pages(_ name: String, from: Int64?, to: Int64?) throws(Problem) -> [UInt8] {
        let name = try named(name)
        if let from, let to, from > to {
            throw Problem(status: 400, title: "Bad request", detail: "'from' must not be past 'to'")
        }
        return CommandLineAnswers.pageMap(
            try answer { () throws(SectionError) in try registry.pageMap(named: name, from: from, to: to) })
    }

    func write(_ name: String, offset: Int64, partial: Bool, lock: Bool, bytes: [UInt8]) throws(Problem) -> [UInt8] {
        let name = try named(name)
        let result = try answer { () throws(SectionError) in
            let write = { () throws(SectionError) -> WriteResult in
                let outcome = bytes.withUnsafeBytes { buffer in
                    Result { () throws(SectionError) in
                        try registry.write(named: name, offset: offset, bytes: buffer, partial: partial)
                    }
                }
                return try outcome.get()
            }
            guard lock else { return try write() }
            return try registry.withLock(named: name, mode: .exclusive, timeout: 1, write)
        }
        return CommandLineAnswers.writeResult(result)
    }

    func dump(_ name: String, offset: Int64, length: Int64?, format: CommandLineAnswers.DumpText)
        throws(Problem) -> [UInt8]
    {
        try CommandLineAnswers.dump(registry, named: try named(name), offset: offset, length: length, format: format)
    }

    func dumpRaw(_ name: String, offset: Int64, length: Int64?, sink: (UnsafeRawBufferPointer) -> Bool)
        throws(Problem)
    {
        let name = try named(name)
        let object = try answer { () throws(SectionError) in try registry.openForStreaming(named: name) }
        let count = length ?? max(0, object.commit - offset)
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, offset <= object.commit, end <= object.commit else {
            throw Problem(
                status: 416, title: "Range not satisfiable",
                detail:
                    "the range at \(offset) of \(count) bytes is outside the commit (\(object.commit) bytes) of section '\(name)'"
            )
        }
        // pread in pieces straight from the object: nothing larger than one piece is held.
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var at = offset
        while at < end {
            let got = buffer.withUnsafeMutableBytes { piece in
                pread(object.descriptor.rawValue, piece.baseAddress, min(piece.count, Int(end - at)), off_t(at))
            }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 {
                throw Problem(
                    status: 416, title: "Range not satisfiable",
                    detail: "section '\(name)' was truncated while being read")
            }
            let more = buffer.withUnsafeBytes { sink(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            if !more { return }
            at += Int64(got)
        }
    }

    func holdingLock(_ name: String, mode: LockMode, timeout: Double, _ body: () -> Int32) throws(Problem) -> Int32 {
        let name = try named(name)
        return try answer { () throws(SectionError) in
            try registry.withLock(named: name, mode: mode, timeout: timeout) { () throws(SectionError) in body() }
        }
    }

    func events(_ handler: @escaping @Sendable ([UInt8]) -> Bool) throws(Problem) {
        let subscription = registry.changes.subscribe { event in
            if !handler(CommandLineAnswers.event(event)) { Interrupt.stop() }
        }
        defer { registry.changes.unsubscribe(subscription) }
        while !Interrupt.requested && !Terminal.readerGone { usleep(50_000) }
    }

    func inventory(_ filter: InventoryFilter) throws(Problem) -> [UInt8] {
        try wholeHost().inventory(
            kind: filter.kind, mount: filter.mount, orphan: filter.orphan, query: filter.query, uid: filter.uid)
    }

    func mounts() throws(Problem) -> [UInt8] { try wholeHost().mounts() }

    func doctor(rootDirectory: String, graceSeconds: Double) throws(Problem) -> [UInt8] {
        try wholeHost().doctor(rootDirectory: rootDirectory, graceSeconds: graceSeconds)
    }

    func object(_ href: String) throws(Problem) -> [UInt8] { try wholeHost().detail(href: href) }

    func reclaim(_ order: ReclaimOrder) throws(Problem) -> [UInt8] {
        // `reclaim` checked the duration (bad text is a usage error).
        try wholeHost().reclaim(
            dryRun: order.dryRun, olderThan: order.olderThan.flatMap(DurationText.seconds), mode: order.mode,
            exclude: order.exclude, mounts: order.mounts, graceSeconds: order.graceSeconds)
    }

    func quarantineList() throws(Problem) -> [UInt8] { try wholeHost().quarantineList() }

    func restore(_ id: String) throws(Problem) -> [UInt8] { try wholeHost().restore(id) }

    func purge(_ id: String) throws(Problem) { try wholeHost().purge(id) }
}
