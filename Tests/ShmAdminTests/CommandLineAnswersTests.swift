import HTTPServer
import Testing

@testable import SectionRegistry
@testable import ShmAdmin

/// `shm-admin`'s local mode prints what the endpoints answer: `CommandLineAnswers` over the
/// registry gives the bytes the router sends for the same state.
@Suite struct CommandLineAnswersTests {
    @Test func listingDetailPagesAndSectionAreTheRoutesBytes() throws {
        let box = try APIHarness()
        defer { box.close() }
        let mount = CommandLineAnswers.mount(of: box.registry)
        box.create("one")
        box.create("two", reserve: "\"1MiB\"", commit: "65536")
        let written = box.call(
            "PUT", "/api/v1/sections/\(box.name("two"))/data", query: [("offset", "0")], body: [1, 2])
        #expect(written.status == 200)
        #expect(written.bodyBytes == CommandLineAnswers.writeResult(WriteResult(offset: 0, written: 2, requested: 2)))

        let listed = box.call("GET", "/api/v1/sections", query: [("q", box.prefix), ("limit", "10000")])
        let (sections, total) = try box.registry.list(ListFilter(query: box.prefix, limit: .max))
        #expect(total == 2)
        #expect(listed.bodyBytes == CommandLineAnswers.sectionList(sections, total: total, mount: mount))

        let two = try SectionName(box.name("two"))
        let detail = box.call("GET", "/api/v1/sections/\(two)")
        #expect(detail.bodyBytes == CommandLineAnswers.detail(try box.registry.detail(named: two), mount: mount))

        let pages = box.call("GET", "/api/v1/sections/\(two)/pages")
        #expect(pages.bodyBytes == CommandLineAnswers.pageMap(try box.registry.pageMap(named: two)))

        let grown = box.call("POST", "/api/v1/sections/\(two)/grow", json: #"{"by":0}"#)
        #expect(grown.bodyBytes == CommandLineAnswers.section(try box.registry.section(named: two), mount: mount))
    }

    @Test func dumpsAreTheRoutesBytes() throws {
        let box = try APIHarness()
        defer { box.close() }
        box.create("data")
        let name = try SectionName(box.name("data"))
        let bytes = Array("hello, world, and more bytes than one line holds".utf8)
        #expect(box.call("PUT", "/api/v1/sections/\(name)/data", query: [("offset", "5")], body: bytes).status == 200)
        let read = try box.registry.read(named: name, offset: 3, length: 70)
        for format in [CommandLineAnswers.DumpText.hex, .hexdump, .base64] {
            let answer = box.call(
                "GET", "/api/v1/sections/\(name)/data",
                query: [("format", format.rawValue), ("offset", "3"), ("length", "70")])
            #expect(answer.bodyBytes == CommandLineAnswers.dump(read, offset: 3, format: format), "\(format)")
        }
    }

    @Test func problemsAreTheRoutesProblems() throws {
        let box = try APIHarness()
        defer { box.close() }
        let missing = box.call("GET", "/api/v1/sections/\(box.name("none"))")
        do {
            _ = try box.registry.detail(named: try SectionName(box.name("none")))
            Issue.record("no error for a missing section")
        } catch {
            let problem = CommandLineAnswers.problem(error)
            #expect(problem.status == 404)
            #expect(missing.json["title"]?.string == problem.title)
            #expect(missing.json["detail"]?.string == problem.detail)
        }
    }
}
