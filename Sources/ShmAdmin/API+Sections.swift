import HTTPServer
import HostScan
import JSON
import SectionRegistry

extension API {
    func listSections(_ request: HTTPRequest) throws -> HTTPResponse {
        let query = Query(request: request)
        let kind = try query.choice("kind", ["shm", "semaphore"]).flatMap(SectionKind.init(rawValue:))
        let filter = ListFilter(
            managed: try query.bool("managed"), kind: kind, orphan: try query.bool("orphan"), query: request.query["q"],
            limit: Int(try query.integer("limit", default: 1000, range: 0...10_000)!),
            offset: Int(try query.integer("offset", default: 0, range: 0...Int64.max)!))
        var key = ""
        for item in request.query.items {
            if !key.isEmpty { key += "&" }
            key += item.key
            key += "="
            key += item.value
        }
        let mount = ownMount
        let bytes = try listings.bytes(for: key) {
            let (sections, total) = try registry.list(filter)
            return SectionListJSON.write(sections, total: total, mount: mount).finishShared()
        }
        return .json(shared: bytes)
    }

    func createSection(_ request: HTTPRequest) throws -> HTTPResponse {
        let body = try JSONBody(request, allowed: ["name", "reserve", "commit", "namespace", "exclusive", "labels"])
        guard let reserve = try body.size("reserve") else {
            throw APIFailure(Problems.invalid("'reserve' is required"))
        }
        let name = try body.string("name").map(validName)
        let create = CreateRequest(
            name: name, reserve: reserve, commit: try body.size("commit"), namespace: try namespace(body),
            exclusive: try body.bool("exclusive") ?? false, labels: try body.labels("labels") ?? [:],
            creator: "api \(request.remoteAddress)")
        let make = { @Sendable [self] () throws -> HTTPResponse in
            let (section, created) = try registry.create(create)
            return .json(status: created ? 201 : 200, SectionJSON(section, created: created, mount: ownMount))
        }
        if (create.commit ?? create.reserve) >= Self.deferredCommitBytes {
            return offTheWorkers(request, make)
        }
        return try make()
    }

    /// Commits of this many bytes or more (fallocate clears every page: about a quarter of a second a
    /// GiB here, seconds for a large create) are made off the server's workers (`.deferred`), so that
    /// they do not stop the server answering others meanwhile.
    static let deferredCommitBytes: Int64 = 64 << 20

    func sectionDetail(_ request: HTTPRequest) throws -> SectionDetailJSON {
        let detail = try registry.detail(named: try sectionName(request))
        return SectionDetailJSON(detail, mount: ownMount, procDirectory: host.configuration.procDirectory)
    }

    func deleteSection(_ request: HTTPRequest) throws -> HTTPResponse {
        let force = try Query(request: request).bool("force") ?? false
        try registry.delete(named: try sectionName(request), force: force)
        return .empty()
    }

    func adoptSection(_ request: HTTPRequest) throws -> SectionJSON {
        let name = try sectionName(request)
        let body = try JSONBody(request, allowed: ["reserve", "namespace", "labels"], optional: true)
        let section = try registry.adopt(
            named: name, reserve: try body.size("reserve"),
            namespace: body.has("namespace") ? try namespace(body) : nil,
            labels: try body.labels("labels") ?? [:], creator: "api \(request.remoteAddress)")
        return SectionJSON(section, mount: ownMount)
    }

    func growSection(_ request: HTTPRequest) throws -> HTTPResponse {
        let name = try sectionName(request)
        let body = try JSONBody(request, allowed: ["commit", "by"])
        let target: GrowTarget
        switch (try body.size("commit"), try body.size("by")) {
        case (let commit?, nil): target = .commit(commit)
        case (nil, let amount?): target = .by(amount)
        default: throw APIFailure(Problems.invalid("give exactly one of 'commit' and 'by'"))
        }
        let grow = { @Sendable [self] () throws -> HTTPResponse in
            SectionJSON(try registry.grow(named: name, target), mount: ownMount).response()
        }
        let asked: Int64 =
            switch target {
            case .commit(let commit): commit
            case .by(let amount): amount
            }
        if asked >= Self.deferredCommitBytes { return offTheWorkers(request, grow) }
        return try grow()
    }

    func resetSection(_ request: HTTPRequest) throws -> SectionJSON {
        let name = try sectionName(request)
        let body = try JSONBody(request, allowed: ["offset", "length"])
        guard let offset = try body.integer("offset"), let length = try body.integer("length") else {
            throw APIFailure(Problems.invalid("'offset' and 'length' are required"))
        }
        return SectionJSON(try registry.reset(named: name, offset: offset, length: length), mount: ownMount)
    }

    func pages(_ request: HTTPRequest) throws -> PageMapJSON {
        let name = try sectionName(request)
        let query = Query(request: request)
        let from = try query.integer("from", range: 0...Int64.max)
        let to = try query.integer("to", range: 0...Int64.max)
        if let from, let to, from > to { throw APIFailure(Problems.badRequest("'from' must not be past 'to'")) }
        let maxRuns = try query.integer("maxRuns", default: 10_000, range: 1...1_000_000)!
        return PageMapJSON(map: try registry.pageMap(named: name, from: from, to: to, maxRuns: Int(maxRuns)))
    }

    func system() -> SystemJSON {
        SystemJSON(
            info: registry.systemInfo(), version: version,
            uptimeSeconds: ((monotonicSeconds() - startedAt) * 1000).rounded() / 1000)
    }

    private func namespace(_ body: JSONBody) throws(APIFailure) -> Namespace {
        guard let text = try body.string("namespace") else { return .local }
        guard let namespace = Namespace(rawValue: text) else {
            throw APIFailure(Problems.invalid("'namespace' must be 'local' or 'global'"))
        }
        return namespace
    }
}
