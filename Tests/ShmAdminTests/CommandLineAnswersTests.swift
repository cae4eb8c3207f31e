import HTTPServer
import JSON
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

    @Test("each member a local table reads is the member the listing's JSON holds")
    func sectionMembersAreTheJSONs() throws {
        let box = try APIHarness()
        defer { box.close() }
        box.create("plain")
        box.create("labelled", reserve: "\"1MiB\"", commit: "65536")
        let mount = CommandLineAnswers.mount(of: box.registry)
        var infos = try box.registry.list(ListFilter(query: box.prefix, limit: .max)).sections
        #expect(infos.count == 2)
        var odd = infos[0]
        odd.name = "odd name \"é\u{1}/%"
        odd.reserve = nil
        odd.mode = 0o104755
        odd.labels = ["b": "two", "a": "one \"quoted\""]
        odd.createdAt = 1_765_000_000.999
        odd.modifiedAt = 0
        odd.allocatedBytes = odd.commit + 4096
        infos.append(odd)
        for info in infos {
            let json = try StrictJSON.parse(CommandLineAnswers.section(info, mount: mount))
            guard case .object(let members) = json else {
                Issue.record("not an object")
                continue
            }
            for (key, value) in members {
                let resolved = try #require(SectionMemberKey(rawValue: key), "\(key) has no SectionMemberKey")
                let member: JSONValue =
                    switch CommandLineAnswers.sectionMember(resolved, of: info, mount: mount) {
                    case .text(let text): .string(text)
                    case .time(let seconds): .string(Render.timestamp(seconds))
                    case .number(let number): .int(number)
                    case .flag(let flag): .bool(flag)
                    case .labels(let labels):
                        .object(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
                    case .null: .null
                    }
                #expect(member == value, "\(key) of \(info.name)")
            }
            // the resolved keys are exactly the JSON's members
            #expect(Set(members.map(\.0)) == Set(SectionMemberKey.allCases.map(\.rawValue)))
        }
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
