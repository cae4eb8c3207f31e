import Logging
import SystemPackage
import Testing

@testable import HTTPServer
@testable import ShmAdmin

/// The access log's line is the line `LineLogHandler` writes for the same event (docs/API-DETAILS.md):
/// message `METHOD ROUTE STATUS`, then `bytes`, `duration_us` and `remote` sorted as metadata.
@Suite struct AccessLogTests {
    static func report(
        _ method: String, _ route: String?, _ status: Int, bytes: UInt64, seconds: Double, remote: String,
        aborted: Bool = false
    ) -> CompletedRequest {
        CompletedRequest(
            method: method, route: route, path: "/p", status: status, bytesSent: bytes, durationSeconds: seconds,
            remoteAddress: remote, outcome: aborted ? .aborted : .completed)
    }

    static let reports: [CompletedRequest] = [
        report("GET", "/api/v1/sections", 200, bytes: 35526, seconds: 0.000412, remote: "127.0.0.1"),
        report("HEAD", "/api/v1/sections/{name}", 404, bytes: 0, seconds: 0, remote: "::1"),
        report("DELETE", nil, 0, bytes: 1 << 40, seconds: 12.5, remote: "unix", aborted: true),
        report("GET", "/", 999, bytes: UInt64.max, seconds: -1, remote: "127.0.0.1"),
        // Control characters escaped, in every text; and texts too long for the usual stack buffer.
        report("P\nST", "/a\r\u{7f}\u{0}", 500, bytes: 9, seconds: 0.0000005, remote: "x\ty"),
        report(
            String(repeating: "\u{1}", count: 700), String(repeating: "é/", count: 900), 201, bytes: 1,
            seconds: 1, remote: String(repeating: "r", count: 300)),
    ]

    @Test(arguments: reports)
    func theLineIsTheOneLineLogHandlerWrites(report: CompletedRequest) throws {
        let out = LineLogHandlerTests.Pipe()
        let sink = LogSink(descriptor: FileDescriptor(rawValue: out.write))
        var logger = Logger(label: "shm-admin") { LineLogHandler(label: $0, sink: sink) }
        logger.logLevel = .info
        logger.info(
            "\(report.method) \(report.route ?? "-") \(report.status)",
            metadata: [
                "bytes": "\(Int64(clamping: report.bytesSent))",
                "duration_us": "\(Int64(max(0, report.durationSeconds * 1_000_000)))",
                "remote": "\(report.remoteAddress)",
            ])
        AccessLog(sink: sink, label: "shm-admin").write(report)
        let lines = out.drain().split(separator: "\n", omittingEmptySubsequences: false)
        try #require(lines.count == 3 && lines[2].isEmpty, "\(lines)")
        let (expected, written) = (lines[0], lines[1])
        #expect(written.dropFirst(24) == expected.dropFirst(24) + (report.outcome == .aborted ? " aborted" : ""))
        // The same timestamp format, and not earlier than the handler's line before it.
        let stamp = written.prefix(24)
        #expect(stamp.dropFirst(4).first == "-" && stamp.dropFirst(10).first == "T" && stamp.last == "Z", "\(stamp)")
        #expect(stamp.dropFirst(19).first == "." && written.dropFirst(24).first == " ", "\(written)")
        #expect(stamp >= expected.prefix(24))
    }
}
