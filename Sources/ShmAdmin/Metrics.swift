import HTTPServer
import SectionRegistry
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Request counters and latency histograms, and the section gauges read at scrape time.
/// Rendered in the Prometheus text exposition format (checked by `promtool check metrics`).
final class Metrics: Sendable {
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct RequestKey: Hashable {
        var method: String
        var route: String
        var code: Int
    }

    private struct Histogram {
        var counts = [UInt64](repeating: 0, count: Metrics.buckets.count)
        var sum = 0.0
        var count: UInt64 = 0

        func adding(_ other: Histogram) -> Histogram {
            Histogram(counts: zip(counts, other.counts).map(+), sum: sum + other.sum, count: count + other.count)
        }

        mutating func observe(_ seconds: Double) {
            for index in Metrics.buckets.indices where seconds <= Metrics.buckets[index] { counts[index] += 1 }
            sum += seconds
            count += 1
        }
    }

    private struct State {
        var requests: [RequestKey: UInt64] = [:]
        var durations: [String: Histogram] = [:]
    }

    /// The counters, split in shards picked by thread: every worker records every request, so one
    /// lock for all of them would be contended. A scrape adds the shards up.
    private final class Shard: Sendable {
        let state = Mutex(State())
    }

    private let shards = (0..<8).map { _ in Shard() }  // 8: the top 3 bits of a mixed thread handle
    let sectionCap: Int

    init(sectionCap: Int) { self.sectionCap = sectionCap }

    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

    /// Runs once per request, under a lock every worker takes: updates in place, allocates nothing
    /// once a route's series exist.
    func record(_ request: CompletedRequest) {
        let route = request.route ?? "unmatched"
        let method = Self.knownMethods.contains(request.method) ? request.method : "other"
        let seconds = request.durationSeconds
        // Thread handles are addresses a stack size apart: mix them before taking the top bits.
        let shard = shards[Int((UInt(pthread_self()) &* 0x9E37_79B9_7F4A_7C15) >> 61)]
        shard.state.withLock { state in
            state.requests[RequestKey(method: method, route: route, code: request.status), default: 0] += 1
            state.durations[route, default: Histogram()].observe(seconds)
        }
    }

    /// Version 1's series; who maps the sections comes from `evidence` when given (see `list`).
    func render(registry: SectionRegistry, evidence: ProcSnapshot? = nil) -> String {
        var out = ""
        let sections = (try? registry.list(ListFilter(limit: .max), evidence: evidence).sections) ?? []
        let capacity = registry.directory.capacity()

        header(&out, "shm_admin_sections", "gauge", "Sections in the shared-memory directory, by managed and kind.")
        var groups: [String: Int] = [:]
        for managed in ["true", "false"] { for kind in ["shm", "semaphore"] { groups["\(managed)|\(kind)"] = 0 } }
        for section in sections { groups["\(section.managed)|\(section.kind.rawValue)", default: 0] += 1 }
        for key in groups.keys.sorted() {
            let parts = key.split(separator: "|")
            out += "shm_admin_sections{managed=\"\(parts[0])\",kind=\"\(parts[1])\"} \(groups[key]!)\n"
        }
        header(&out, "shm_admin_orphan_sections", "gauge", "Sections no process but shm-admin maps or holds open.")
        // Counted in one loop, not through filtered copies: with 10,000 sections each copy is
        // megabytes that a scrape would allocate and free (bench/ANALYSIS.md, line 8).
        var orphans = 0
        var shmSections = 0
        var shown: [SectionInfo] = []
        shown.reserveCapacity(min(sections.count, sectionCap))
        for section in sections where section.kind == .shm {
            shmSections += 1
            if section.orphan && section.state == .ok { orphans += 1 }
            if shown.count < sectionCap { shown.append(section) }
        }
        out += "shm_admin_orphan_sections \(orphans)\n"

        let dropped = shmSections - shown.count
        let perSection: [(String, String, String, (SectionInfo) -> Int64?)] = [
            ("shm_admin_section_commit_bytes", "Committed bytes (the object's size).", "managed", { $0.commit }),
            ("shm_admin_section_reserve_bytes", "Reserved bytes of managed sections.", "", { $0.reserve }),
            (
                "shm_admin_section_allocated_bytes", "Bytes of memory allocated to the section.", "managed",
                { $0.allocatedBytes }
            ),
            ("shm_admin_section_data_bytes", "Bytes holding written data.", "managed", { $0.dataBytes }),
            ("shm_admin_section_mappers", "Other processes mapping the section.", "", { Int64($0.mappers) }),
        ]
        for (name, help, extra, value) in perSection {
            header(&out, name, "gauge", help)
            for section in shown {
                guard let number = value(section) else { continue }
                var labels = "section=\"\(Self.escape(section.name))\""
                if extra == "managed" { labels += ",managed=\"\(section.managed)\"" }
                out += "\(name){\(labels)} \(number)\n"
            }
        }
        header(
            &out, "shm_admin_section_series_dropped", "gauge", "Sections left out of the per-section series by the cap."
        )
        out += "shm_admin_section_series_dropped \(dropped)\n"
        header(&out, "shm_admin_shm_filesystem_size_bytes", "gauge", "Size of the shared-memory filesystem.")
        out += "shm_admin_shm_filesystem_size_bytes \(capacity.size)\n"
        header(&out, "shm_admin_shm_filesystem_free_bytes", "gauge", "Free bytes of the shared-memory filesystem.")
        out += "shm_admin_shm_filesystem_free_bytes \(capacity.free)\n"

        var snapshot = State()
        for shard in shards {
            let part = shard.state.withLock { $0 }
            snapshot.requests.merge(part.requests, uniquingKeysWith: +)
            snapshot.durations.merge(part.durations) { $0.adding($1) }
        }
        header(&out, "shm_admin_http_requests_total", "counter", "HTTP requests answered, by method, route and status.")
        for (key, count) in snapshot.requests.sorted(by: { "\($0.key)" < "\($1.key)" }) {
            out += "shm_admin_http_requests_total{method=\"\(key.method)\",route=\"\(Self.escape(key.route))\","
            out += "code=\"\(key.code)\"} \(count)\n"
        }
        header(&out, "shm_admin_http_request_duration_seconds", "histogram", "Time to answer HTTP requests, by route.")
        for (route, histogram) in snapshot.durations.sorted(by: { $0.key < $1.key }) {
            let label = "route=\"\(Self.escape(route))\""
            for (index, bound) in Self.buckets.enumerated() {
                out +=
                    "shm_admin_http_request_duration_seconds_bucket{\(label),le=\"\(bound)\"} \(histogram.counts[index])\n"
            }
            out += "shm_admin_http_request_duration_seconds_bucket{\(label),le=\"+Inf\"} \(histogram.count)\n"
            out += "shm_admin_http_request_duration_seconds_sum{\(label)} \(histogram.sum)\n"
            out += "shm_admin_http_request_duration_seconds_count{\(label)} \(histogram.count)\n"
        }
        return out
    }

    private func header(_ out: inout String, _ name: String, _ type: String, _ help: String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    /// A label value: backslash, double quote and newline escaped.
    static func escape(_ value: String) -> String {
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }
}
