import Foundation
import SectionRegistry
import Testing

@testable import HTTPServer
@testable import ShmAdmin

/// `GET /metrics`: every metric name of API.md, label values escaped, the text format's shape.
@Suite struct MetricsTests {
    /// API.md "Metrics" (names are part of the contract).
    static let contractNames = [
        "shm_admin_sections", "shm_admin_orphan_sections", "shm_admin_section_commit_bytes",
        "shm_admin_section_reserve_bytes", "shm_admin_section_allocated_bytes", "shm_admin_section_data_bytes",
        "shm_admin_section_mappers", "shm_admin_shm_filesystem_size_bytes", "shm_admin_shm_filesystem_free_bytes",
        "shm_admin_http_requests_total", "shm_admin_http_request_duration_seconds", "shm_admin_section_series_dropped",
    ]

    /// The names API.md itself lists, when the shared design directory is checked out next to the repo.
    static func namesInAPIMd() -> [String]? {
        let path = repositoryRoot + "/../shared/design/API.md"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let start = text.range(of: "## Metrics")
        else { return nil }
        let section = text[start.upperBound...]
        let regex = /shm_admin_[a-z_]+/
        return Array(Set(section.matches(of: regex).map { String($0.output) })).sorted()
    }

    static func completed(_ method: String, _ route: String?, _ status: Int, _ seconds: Double) -> CompletedRequest {
        CompletedRequest(
            method: method, route: route, path: route ?? "/x", status: status, bytesSent: 10, durationSeconds: seconds,
            remoteAddress: "127.0.0.1", outcome: .completed)
    }

    @Test func theContractListMatchesAPIMd() throws {
        guard let names = Self.namesInAPIMd() else { return }  // shared/ absent: the list above is the contract
        #expect(Set(names) == Set(Self.contractNames), "API.md names \(names)")
    }

    @Test func everyContractMetricIsRendered() throws {
        let box = try APIHarness()
        defer { box.close() }
        box.create("m")
        box.api.metrics.record(Self.completed("GET", "/api/v1/sections", 200, 0.003))
        let text = box.api.metrics.render(registry: box.registry)
        let names = Set(Self.contractNames + (Self.namesInAPIMd() ?? []))
        for name in names {
            #expect(text.contains("# TYPE \(name) "), "no TYPE line for \(name)")
            let sample = text.split(separator: "\n").contains {
                $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") || $0.hasPrefix(name + "_bucket{")
            }
            #expect(sample, "no sample of \(name)")
        }
        #expect(text.contains("# TYPE shm_admin_http_request_duration_seconds histogram"))
        #expect(text.contains("# TYPE shm_admin_http_requests_total counter"))
        let section = box.name("m")
        #expect(text.contains("shm_admin_section_commit_bytes{section=\"\(section)\",managed=\"true\"} 8192\n"))
        #expect(text.contains("shm_admin_section_reserve_bytes{section=\"\(section)\"} 65536\n"))
        #expect(text.contains("shm_admin_section_mappers{section=\"\(section)\"} 0\n"))
        #expect(
            text.contains("shm_admin_http_requests_total{method=\"GET\",route=\"/api/v1/sections\",code=\"200\"} 1\n"))
        #expect(
            text.contains(
                "shm_admin_http_request_duration_seconds_bucket{route=\"/api/v1/sections\",le=\"0.0025\"} 0\n"))
        #expect(
            text.contains(
                "shm_admin_http_request_duration_seconds_bucket{route=\"/api/v1/sections\",le=\"0.005\"} 1\n"))
        #expect(
            text.contains("shm_admin_http_request_duration_seconds_bucket{route=\"/api/v1/sections\",le=\"+Inf\"} 1\n"))
        #expect(text.contains("shm_admin_http_request_duration_seconds_count{route=\"/api/v1/sections\"} 1\n"))
    }

    @Test func throughTheRouter() throws {
        let box = try APIHarness()
        defer { box.close() }
        let response = box.call("GET", "/metrics", token: nil)
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(response.text.contains("# TYPE shm_admin_sections gauge"))
    }

    /// Whether a scrape has a series for a sparse object of the server's own mount (from the host
    /// scan's listing, not the registry's).
    private static func seesSparse(_ text: String, _ name: String, mount: String) -> Bool {
        text.contains("shm_admin_unbacked_bytes{section=\"\(name)\",mount=\"\(mount)\"} 67108864\n")
    }

    @Test("a busy host's scrape takes the doctor's last run instead of a pass; a quiet host's is a second old")
    func scrapesOfABusyHostMakeNoPass() throws {
        let sparse = 64 << 20
        // Every pass counts as expensive here.
        let busy = try APIHarness(expensivePass: -1)
        defer { busy.close() }
        let mount = busy.api.ownMount
        try busy.makeFile(busy.name("before"), size: sparse)
        _ = busy.api.host.snapshot()
        busy.api.doctor.tick()
        let passes = busy.api.host.passesRun
        #expect(Self.seesSparse(busy.call("GET", "/metrics", token: nil).text, busy.name("before"), mount: mount))
        try busy.makeFile(busy.name("after"), size: sparse)
        Thread.sleep(forTimeInterval: 1.2)  // older than a second-old reader would take
        let second = busy.call("GET", "/metrics", token: nil).text
        #expect(busy.api.host.passesRun == passes, "a scrape made a pass over /proc")
        #expect(!Self.seesSparse(second, busy.name("after"), mount: mount), "objects as the doctor's run read them")
        busy.api.doctor.tick()
        #expect(Self.seesSparse(busy.call("GET", "/metrics", token: nil).text, busy.name("after"), mount: mount))

        // Where a pass is cheap, a scrape is a second old.
        let quiet = try APIHarness(expensivePass: .infinity)
        defer { quiet.close() }
        quiet.api.doctor.tick()
        _ = quiet.call("GET", "/metrics", token: nil)
        try quiet.makeFile(quiet.name("new"), size: sparse)
        Thread.sleep(forTimeInterval: 1.2)
        let after = quiet.call("GET", "/metrics", token: nil).text
        #expect(quiet.api.host.lastPassCPUSeconds > 0, "the pass's cost is measured")
        #expect(Self.seesSparse(after, quiet.name("new"), mount: mount))
    }

    /// Every line is a comment or `name{labels} value`; each family's samples follow its HELP and TYPE.
    @Test func theExpositionIsWellFormed() throws {
        let box = try APIHarness()
        defer { box.close() }
        box.create("shape \"quoted\"")
        box.api.metrics.record(Self.completed("POST", "/api/v1/sections", 201, 0.2))
        box.api.metrics.record(Self.completed("BREW", nil, 404, 0.0001))
        let text = box.api.metrics.render(registry: box.registry)
        #expect(text.hasSuffix("\n"))
        let sample = /([a-z_:][a-z0-9_:]*)(\{([a-z_]+="([^"\\\n]|\\\\|\\"|\\n)*",?)*\})? (-?[0-9][0-9.e+-]*|\+Inf|NaN)/
        var typed: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") { continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                #expect(parts.count == 4 && ["gauge", "counter", "histogram"].contains(parts[3]), "\(line)")
                #expect(typed.insert(String(parts[2])).inserted, "TYPE twice: \(line)")
                continue
            }
            guard let match = line.wholeMatch(of: sample) else {
                Issue.record("not a sample line: \(line)")
                continue
            }
            let name = String(match.output.1)
            let family =
                typed.contains(name)
                ? name
                : ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) }.map { String(name.dropLast($0.count)) }
                    ?? name
            #expect(typed.contains(family), "sample before its TYPE: \(line)")
        }
        #expect(text.contains("method=\"other\",route=\"unmatched\",code=\"404\""))
    }

    @Test(arguments: [
        ("plain", "plain"), ("a\"b", "a\\\"b"), ("a\\b", "a\\\\b"), ("a\nb", "a\\nb"),
        ("\"\\\n", "\\\"\\\\\\n"), ("é ✓", "é ✓"), ("", ""),
    ])
    func labelValuesAreEscaped(raw: String, escaped: String) {
        #expect(Metrics.escape(raw) == escaped)
    }

    @Test func sectionAndRouteLabelsAreEscapedInTheOutput() throws {
        let box = try APIHarness()
        defer { box.close() }
        box.create("q\"uote")
        box.api.metrics.record(Self.completed("GET", "/odd\\route\"\nx", 200, 0.01))
        let text = box.api.metrics.render(registry: box.registry)
        #expect(text.contains("section=\"\(box.prefix)q\\\"uote\""))
        #expect(!text.contains("section=\"\(box.prefix)q\"uote\""))
        #expect(text.contains("route=\"/odd\\\\route\\\"\\nx\""))
        // Another process may name an object anything a file may be called.
        try box.makeFile(box.name("nl\nback\\slash"), size: 4096)
        let foreign = box.api.metrics.render(registry: box.registry)
        #expect(
            foreign.contains(
                "shm_admin_section_commit_bytes{section=\"\(box.prefix)nl\\nback\\\\slash\",managed=\"false\"} 4096\n"))
    }

    @Test("orphans and the series cap count the shm sections of the directory, not its semaphores")
    func countsOfAKnownDirectory() throws {
        let root = "/tmp/t-metrics-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let files = FileManager.default
        try files.createDirectory(atPath: root + "/objects", withIntermediateDirectories: true)
        defer { try? files.removeItem(atPath: root) }
        // Three objects nobody maps (orphans) and a semaphore, in a directory of the test's own.
        for name in ["a", "b", "c", "sem.x"] {
            #expect(files.createFile(atPath: "\(root)/objects/\(name)", contents: Data(count: 4096)))
        }
        let registry = try SectionRegistry(
            configuration: .init(
                shmDirectory: root + "/objects", stateDirectory: root + "/state", watchDirectory: false))
        let lines = Metrics(sectionCap: 2).render(registry: registry).split(separator: "\n")
        #expect(lines.contains("shm_admin_orphan_sections 3"))
        #expect(lines.contains("shm_admin_section_series_dropped 1"))
        #expect(lines.filter { $0.hasPrefix("shm_admin_section_commit_bytes{") }.count == 2)
        #expect(lines.contains("shm_admin_section_commit_bytes{section=\"a\",managed=\"false\"} 4096"))
        #expect(lines.contains("shm_admin_sections{managed=\"false\",kind=\"semaphore\"} 1"))
    }

    @Test func perSectionSeriesStopAtTheCap() throws {
        let box = try APIHarness()
        defer { box.close() }
        box.create("cap")
        let capped = Metrics(sectionCap: 0)
        let text = capped.render(registry: box.registry)
        #expect(!text.contains("shm_admin_section_commit_bytes{"))
        let dropped = text.split(separator: "\n").first { $0.hasPrefix("shm_admin_section_series_dropped ") }
        #expect(dropped.flatMap { Int($0.split(separator: " ")[1]) }.map { $0 >= 1 } == true)
    }
}
