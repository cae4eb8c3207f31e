import HTTPServer
import Testing

@testable import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// Sections through the router on the real /dev/shm: create, list, detail, grow, reset, pages, adopt,
/// delete, and the public and read endpoints around them.
@Suite struct SectionFlowTests {
    static let sections = "/api/v1/sections"

    @Test func createOpensAndRefusesExclusive() throws {
        let box = try APIHarness()
        defer { box.close() }
        let name = box.name("orders")
        let body = #"{"name":"\#(name)","reserve":"64KiB","commit":4096,"labels":{"app":"matcher"}}"#
        let created = box.call("POST", Self.sections, json: body)
        #expect(created.status == 201)
        #expect(created.headers["Content-Type"] == "application/json")
        let section = created.json
        #expect(section["created"]?.bool == true)
        #expect(section["name"]?.string == name)
        #expect(section["kind"]?.string == "shm")
        #expect(section["managed"]?.bool == true)
        #expect(section["namespace"]?.string == "local")
        #expect(section["path"]?.string == "/dev/shm/" + name)
        #expect(section["state"]?.string == "ok")
        #expect(section["reserve"]?.int == 65536)
        #expect(section["commit"]?.int == 4096)
        #expect(section["mode"]?.string == "0600")
        #expect(section["labels"] == ["app": "matcher"])
        for key in [
            "allocatedBytes", "dataBytes", "uid", "gid", "createdAt", "modifiedAt", "views", "mappers", "orphan",
        ] {
            #expect(section[key] != nil, "no \(key)")
        }
        #expect(section["createdAt"]?.string?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil)
        #expect(fileStatus(box.path("orders")).map { Int64($0.st_size) } == 4096)
        #expect(fileStatus(box.path("orders")).map { $0.st_mode & 0o777 } == 0o600)

        let opened = box.call("POST", Self.sections, json: #"{"name":"\#(name)","reserve":"1MiB"}"#)
        #expect(opened.status == 200)
        #expect(opened.json["created"]?.bool == false)
        #expect(opened.json["reserve"]?.int == 65536, "opening must not change the reserve")

        let exclusive = box.call("POST", Self.sections, json: #"{"name":"\#(name)","reserve":4096,"exclusive":true}"#)
        #expect(exclusive.status == 409)
        #expect(exclusive.problemType == "/problems/section-exists")
        #expect(fileStatus(box.path("orders")).map { Int64($0.st_size) } == 4096)
    }

    @Test func createWithoutCommitCommitsTheWholeRoundedReserve() throws {
        let box = try APIHarness()
        defer { box.close() }
        let response = box.call("POST", Self.sections, json: #"{"name":"\#(box.name("w"))","reserve":5000}"#)
        #expect(response.status == 201)
        let page = Int64(getpagesize())
        let rounded = (5000 + page - 1) / page * page
        #expect(response.json["reserve"]?.int == rounded)
        #expect(response.json["commit"]?.int == rounded)
        let global = box.call(
            "POST", Self.sections, json: #"{"name":"\#(box.name("g"))","reserve":4096,"namespace":"global"}"#)
        #expect(global.status == 201)
        #expect(global.json["namespace"]?.string == "global")
        #expect(fileStatus(box.path("g")).map { $0.st_mode & 0o777 } == 0o666)
    }

    /// Commits of 64 MiB or more are made off the server's workers; smaller ones answer at once.
    @Test func largeCommitsAreDeferred() throws {
        let box = try APIHarness()
        defer { box.close() }
        let big = box.call(
            "POST", Self.sections, json: #"{"name":"\#(box.name("big"))","reserve":"1GiB","commit":"64MiB"}"#,
            resolvingDeferred: false)
        #expect(big.isDeferred)
        let made = big.resolvingDeferred()
        #expect(made.status == 201 && made.json["commit"]?.int == 64 << 20)
        #expect(made.routePattern == "/api/v1/sections")
        let small = box.call(
            "POST", Self.sections, json: #"{"name":"\#(box.name("small"))","reserve":"1GiB","commit":"4KiB"}"#,
            resolvingDeferred: false)
        #expect(!small.isDeferred && small.status == 201)
        let whole = box.call(
            "POST", Self.sections, json: #"{"name":"\#(box.name("whole"))","reserve":"64MiB"}"#,
            resolvingDeferred: false)
        #expect(whole.isDeferred, "no commit: the whole reserve is committed")
        let wholeMade = whole.resolvingDeferred()
        #expect(wholeMade.status == 201)
        let growBig = box.call(
            "POST", Self.sections + "/" + box.name("small") + "/grow", json: #"{"by":"64MiB"}"#,
            resolvingDeferred: false)
        #expect(growBig.isDeferred)
        let grown = growBig.resolvingDeferred()  // runs the grow: once
        let expected: Int64 = (64 << 20) + 4096
        #expect(grown.json["commit"]?.int == expected)
        let growSmall = box.call(
            "POST", Self.sections + "/" + box.name("small") + "/grow", json: #"{"by":"4KiB"}"#, resolvingDeferred: false
        )
        #expect(!growSmall.isDeferred && growSmall.status == 200)
        let refused = box.call(
            "POST", Self.sections + "/" + box.name("small") + "/grow", json: #"{"by":"2GiB"}"#, resolvingDeferred: false
        )
        let refusal = refused.resolvingDeferred()
        #expect(refusal.status == 422, "past the reserve: the same problem, from the deferred work")
    }

    @Test func createWithoutANameMakesOne() throws {
        let box = try APIHarness()
        defer { box.close() }
        let response = box.call("POST", Self.sections, json: #"{"reserve":4096,"labels":{"owner":"\#(box.prefix)"}}"#)
        #expect(response.status == 201)
        guard let name = response.json["name"]?.string else { return }
        defer { unlink("/dev/shm/" + name) }  // outside the prefix: removed by name
        #expect(name.hasPrefix("shm-"))
        #expect(box.call("DELETE", "\(Self.sections)/\(name)").status == 204)
    }

    @Test(arguments: [
        (#"{"name":"a/b","reserve":4096}"#, 422, "invalid-name"),
        (#"{"name":".","reserve":4096}"#, 422, "invalid-name"),
        (#"{"name":"..","reserve":4096}"#, 422, "invalid-name"),
        (#"{"name":"","reserve":4096}"#, 422, "invalid-name"),
        (#"{"name":"a\u0001b","reserve":4096}"#, 422, "invalid-name"),
        (#"{"name":"a\\b","reserve":4096}"#, 422, "invalid-name"),
        (#"{"name":"sem.x","reserve":4096}"#, 422, "invalid-name"),
        (#"{"name":"\#(String(repeating: "n", count: 256))","reserve":4096}"#, 422, "invalid-name"),
        (#"{"name":"NAME"}"#, 422, "invalid-request"),
        (#"{"name":"NAME","reserve":0}"#, 422, "invalid-size"),
        (#"{"name":"NAME","reserve":-1}"#, 422, "invalid-size"),
        (#"{"name":"NAME","reserve":"1.5KiB"}"#, 422, "invalid-size"),
        (#"{"name":"NAME","reserve":4096.5}"#, 422, "invalid-size"),
        (#"{"name":"NAME","reserve":4096,"commit":8192}"#, 422, "invalid-request"),
        (#"{"name":"NAME","reserve":4096,"namespace":"world"}"#, 422, "invalid-request"),
        (#"{"name":"NAME","reserve":4096,"labels":{"":"x"}}"#, 422, "invalid-request"),
        (#"{"name":"NAME","reserve":4096,"colour":"red"}"#, 400, "bad-request"),
        (#"{"name":"NAME","reserve":4096,"exclusive":"yes"}"#, 400, "bad-request"),
        (#"{"name":"NAME","reserve":4096,"name":"NAME"}"#, 400, "bad-request"),
        (#"{"name":"NAME","reserve":4096"#, 400, "bad-request"),
    ])
    func createRefusals(body: String, status: Int, type: String) throws {
        let box = try APIHarness()
        defer { box.close() }
        let response = box.call("POST", Self.sections, json: body.replacingOccurrences(of: "NAME", with: box.name("r")))
        #expect(response.status == status, "\(response.text)")
        #expect(response.problemType == "/problems/" + type)
        #expect(box.leftovers().isEmpty, "a refused create left \(box.leftovers())")
    }

    @Test(arguments: ["..", "."])
    func invalidNamesInThePathAre422(name: String) throws {
        let box = try APIHarness()
        defer { box.close() }
        let path = "\(Self.sections)/\(name)"
        for method in ["GET", "DELETE"] {
            let response = box.call(method, path)
            #expect(response.status == 422, "\(method) \(path)")
            #expect(response.problemType == "/problems/invalid-name")
        }
    }

    @Test func createNeedsJSON() throws {
        let box = try APIHarness()
        defer { box.close() }
        let body = Array(#"{"name":"\#(box.name("t"))","reserve":4096}"#.utf8)
        let response = box.call("POST", Self.sections, body: body, contentType: "text/plain")
        #expect(response.status == 415)
        #expect(response.problemType == "/problems/unsupported-media-type")
        #expect(box.call("POST", Self.sections, body: body).status == 415)
        #expect(box.leftovers().isEmpty)
    }

    @Test func listFiltersPagesAndTotals() throws {
        let box = try APIHarness()
        defer { box.close() }
        for suffix in ["c", "a", "b"] { box.create(suffix) }
        try box.makeFile(box.name("foreign"), size: 4096)
        try box.makeFile("sem." + box.name("sem"), size: 32)

        func names(_ query: [(String, String)]) -> ([String], Int64?) {
            let response = box.call("GET", Self.sections, query: [("q", box.prefix)] + query)
            #expect(response.status == 200, "\(query): \(response.text)")
            let names = response.json["sections"]?.array?.compactMap { $0["name"]?.string } ?? []
            return (names, response.json["total"]?.int)
        }
        let all = names([])
        // Sorted by name: "sem.t-api-…" sorts before "t-api-…".
        #expect(all.0 == ["sem." + box.name("sem")] + ["a", "b", "c", "foreign"].map(box.name))
        #expect(all.1 == 5)
        #expect(names([("managed", "true")]).0 == ["a", "b", "c"].map(box.name))
        #expect(names([("managed", "false")]).1 == 2)
        #expect(names([("kind", "semaphore")]).0 == ["sem." + box.name("sem")])
        #expect(names([("kind", "shm"), ("managed", "false")]).0 == [box.name("foreign")])
        let page = names([("limit", "2"), ("offset", "2")])
        #expect(page.0 == ["b", "c"].map(box.name))
        #expect(page.1 == 5, "total counts the matches before limit and offset")
        #expect(names([("limit", "0")]) == ([], 5))
        #expect(names([("offset", "10")]) == ([], 5))
        #expect(names([("orphan", "true"), ("managed", "true")]).1 == 3)
        let nothing = box.call("GET", Self.sections, query: [("q", box.prefix + "no-such-section")])
        #expect(nothing.json["total"]?.int == 0)
        #expect(nothing.json["sections"] == [])

        let listed = box.call("GET", Self.sections, query: [("q", box.name("foreign"))]).json["sections"]?[0]
        #expect(listed?["managed"]?.bool == false)
        #expect(listed?["reserve"] == .null)
        #expect(listed?["commit"]?.int == 4096)
        let semaphore = box.call("GET", Self.sections, query: [("q", "sem." + box.prefix)]).json["sections"]?[0]
        #expect(semaphore?["kind"]?.string == "semaphore")
    }

    @Test(arguments: [
        ("managed", "maybe"), ("kind", "fifo"), ("orphan", "2"), ("limit", "10001"), ("limit", "-1"), ("offset", "x"),
        ("limit", "1.5"),
    ])
    func listRefusesBadQueries(key: String, value: String) throws {
        let box = try APIHarness()
        defer { box.close() }
        let response = box.call("GET", Self.sections, query: [(key, value)])
        #expect(response.status == 400)
        #expect(response.problemType == "/problems/bad-request")
    }

    @Test func detailHasViewsMappersHoldersLocksAndLeases() throws {
        let box = try APIHarness()
        defer { box.close() }
        box.create("d")
        let detail = box.call("GET", "\(Self.sections)/\(box.name("d"))")
        #expect(detail.status == 200)
        for key in ["viewList", "mapperList", "holderList", "lockHolders", "leases"] {
            #expect(detail.json[key]?.array != nil, "no \(key) list")
        }
        #expect(detail.json["name"]?.string == box.name("d"))
        let missing = box.call("GET", "\(Self.sections)/\(box.name("none"))")
        #expect(missing.status == 404)
        #expect(missing.problemType == "/problems/section-not-found")
    }

    @Test func growNeverShrinksNorPassesTheReserve() throws {
        let box = try APIHarness()
        defer { box.close() }
        box.create("g", reserve: "\"64KiB\"", commit: "4096")
        let path = "\(Self.sections)/\(box.name("g"))/grow"
        let toCommit = box.call("POST", path, json: #"{"commit":8192}"#)
        #expect(toCommit.status == 200)
        #expect(toCommit.json["commit"]?.int == 8192)
        let by = box.call("POST", path, json: #"{"by":"4KiB"}"#)
        #expect(by.json["commit"]?.int == 12288)
        #expect(fileStatus(box.path("g")).map { Int64($0.st_size) } == 12288)
        #expect(
            box.call("POST", path, json: #"{"commit":12288}"#).status == 200, "growing to the same commit is a no-op")

        let shrink = box.call("POST", path, json: #"{"commit":4096}"#)
        #expect(shrink.status == 409)
        #expect(shrink.problemType == "/problems/shrink-refused")
        let past = box.call("POST", path, json: #"{"commit":"128KiB"}"#)
        #expect(past.status == 422)
        #expect(past.problemType == "/problems/past-reserve")
        #expect(box.call("POST", path, json: #"{"by":"64KiB"}"#).problemType == "/problems/past-reserve")
        #expect(fileStatus(box.path("g")).map { Int64($0.st_size) } == 12288, "a refused grow changed the size")

        #expect(box.call("POST", path, json: #"{"commit":8192,"by":1}"#).status == 422)
        #expect(box.call("POST", path, json: "{}").status == 422)
        #expect(box.call("POST", path, json: #"{"commit":1.5}"#).problemType == "/problems/invalid-size")
        #expect(box.call("POST", path, json: #"{"by":-4096}"#).status == 422)
        #expect(box.call("POST", path, json: #"{"to":1}"#).status == 400)
        let full = box.call("POST", path, json: #"{"commit":"64KiB"}"#)
        #expect(full.json["commit"]?.int == 65536)
        #expect(box.call("POST", "\(Self.sections)/\(box.name("none"))/grow", json: #"{"by":1}"#).status == 404)
    }

    @Test func resetAndPages() throws {
        let box = try APIHarness()
        defer { box.close() }
        let page = Int64(getpagesize())
        box.create("p", reserve: "\(8 * page)", commit: "\(4 * page)")
        let base = "\(Self.sections)/\(box.name("p"))"
        #expect(box.call("PUT", base + "/data", query: [("offset", "\(page)")], body: [1, 2, 3]).status == 200)
        let map = box.call("GET", base + "/pages").json
        #expect(map["pageSize"]?.int == page)
        #expect(map["reserve"]?.int == 8 * page)
        #expect(map["commit"]?.int == 4 * page)
        #expect(map["truncated"]?.bool == false)
        let runs = map["runs"]?.array ?? []
        #expect(runs.last?["state"]?.string == "reserved")
        #expect(runs.contains { $0["state"]?.string == "data" && $0["offset"]?.int == page })
        #expect(runs.reduce(Int64(0)) { $0 + ($1["length"]?.int ?? 0) } == 8 * page, "runs cover the reserve")
        #expect(box.call("GET", base + "/pages", query: [("from", "10"), ("to", "5")]).status == 400)
        #expect(box.call("GET", base + "/pages", query: [("maxRuns", "1")]).json["truncated"]?.bool == true)

        let reset = box.call("POST", base + "/reset", json: #"{"offset":\#(page),"length":\#(page)}"#)
        #expect(reset.status == 200)
        #expect(readBytes(box.path("p"), offset: page, count: 3) == [0, 0, 0])
        #expect(box.call("POST", base + "/reset", json: #"{"offset":1,"length":\#(page)}"#).status == 422)
        #expect(box.call("POST", base + "/reset", json: #"{"offset":0}"#).status == 422)
        #expect(box.call("POST", base + "/reset", json: #"{"offset":0,"length":\#(8 * page)}"#).status == 416)
    }

    @Test func adoptAndTheForeignRules() throws {
        let box = try APIHarness()
        defer { box.close() }
        try box.makeFile(box.name("f"), size: 5000)
        try box.makeFile("sem." + box.name("s"), size: 32)
        let base = "\(Self.sections)/\(box.name("f"))"
        let grow = box.call("POST", base + "/grow", json: #"{"by":4096}"#)
        #expect(grow.status == 403, "a foreign section is never changed")
        #expect(box.call("DELETE", base).status == 403)
        #expect(box.call("PUT", base + "/data", query: [("offset", "0")], body: [1]).status == 403)
        #expect(box.call("POST", base + "/adopt", json: #"{"reserve":100}"#).status == 422, "reserve < size")

        let adopted = box.call("POST", base + "/adopt")
        #expect(adopted.status == 200, "\(adopted.text)")
        #expect(adopted.json["managed"]?.bool == true)
        #expect(adopted.json["reserve"]?.int == 8192)
        #expect(box.call("POST", base + "/adopt").status == 409)

        let semaphore = "\(Self.sections)/sem.\(box.name("s"))"
        #expect(box.call("POST", semaphore + "/adopt").status == 403)
        #expect(box.call("DELETE", semaphore).status == 403)
        #expect(box.call("POST", "\(Self.sections)/\(box.name("none"))/adopt").status == 404)
    }

    @Test func deleteUnlinksAndForgets() throws {
        let box = try APIHarness()
        defer { box.close() }
        box.create("x")
        let path = "\(Self.sections)/\(box.name("x"))"
        let deleted = box.call("DELETE", path)
        #expect(deleted.status == 204)
        #expect(deleted.bodyBytes.isEmpty)
        #expect(fileStatus(box.path("x")) == nil)
        #expect(box.call("GET", path).status == 404)
        #expect(box.call("DELETE", path).status == 404)
        #expect(box.call("DELETE", path, query: [("force", "perhaps")]).status == 400)
    }

    @Test func publicAndReadEndpoints() throws {
        let box = try APIHarness()
        defer { box.close() }
        let health = box.call("GET", "/healthz", token: nil)
        #expect(health.status == 200)
        #expect(health.json == ["status": "ok"])

        let system = box.call("GET", "/api/v1/system").json
        #expect(system["pageSize"]?.int == Int64(getpagesize()))
        #expect(system["shm"]?["path"]?.string == "/dev/shm")
        #expect((system["shm"]?["sizeBytes"]?.int ?? 0) > 0)
        #expect(system["version"]?.string == "0.0.0-test")
        #expect(system["uptimeSeconds"]?.double != nil)
        for key in ["sections", "managed", "foreign", "orphan", "semaphores", "missing"] {
            #expect(system["counts"]?[key]?.int != nil, "no counts.\(key)")
        }

        let document = box.call("GET", "/openapi.json")
        #expect(document.status == 200)
        #expect(document.headers["Content-Type"] == "application/json")
        #expect(document.bodyBytes == readBytes(repositoryRoot + "/openapi.json", offset: 0, count: 1 << 24))

        let events = box.call("GET", "/api/v1/events")
        #expect(events.status == 200)
        #expect(events.headers["Content-Type"] == "text/event-stream")
    }
}
