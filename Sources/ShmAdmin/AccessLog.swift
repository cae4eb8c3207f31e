import HTTPServer
import JSON

/// The access log: one line per finished request, in the format of every other log line
/// (`2026-11-23T19:34:45.123Z info shm-admin: GET /api/v1/sections 200 bytes=35526 duration_us=412
/// remote=127.0.0.1`), written straight into the `LogSink`. Through swift-log, each line cost a
/// `Logger.Message`, a `LogEvent`, string interpolations and their copies: 6 % of the server's time
/// for the polled listing (bench 1). Here it is written into a buffer on the stack, with no array
/// to grow (bench/ANALYSIS.md, issue 17).
struct AccessLog: Sendable {
    let sink: LogSink
    let label: String

    func write(_ report: CompletedRequest) {
        // Room for every text escaped and the rest (at most 147 bytes); the usual line fits on the
        // stack, a longer one is allocated.
        let texts =
            LineLogHandler.escapedBound(label) + LineLogHandler.escapedBound(report.method)
            + LineLogHandler.escapedBound(report.route ?? "-") + LineLogHandler.escapedBound(report.remoteAddress)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: texts + 160) { buffer in
            let start = buffer.baseAddress!
            var at = start
            at += LineLogHandler.writeTimestamp(at: at)
            Self.put(" info ", &at)
            at += LineLogHandler.writeEscaped(label, at: at)
            Self.put(": ", &at)
            at += LineLogHandler.writeEscaped(report.method, at: at)
            Self.put(" ", &at)
            at += LineLogHandler.writeEscaped(report.route ?? "-", at: at)
            Self.put(" ", &at)
            at = JSONWriter.writeInteger(Int64(report.status), at: at)
            Self.put(" bytes=", &at)
            at = JSONWriter.writeInteger(Int64(clamping: report.bytesSent), at: at)
            Self.put(" duration_us=", &at)
            at = JSONWriter.writeInteger(Int64(max(0, report.durationSeconds * 1_000_000)), at: at)
            Self.put(" remote=", &at)
            at += LineLogHandler.writeEscaped(report.remoteAddress, at: at)
            if report.outcome == .aborted { Self.put(" aborted", &at) }
            Self.put("\n", &at)
            sink.write(UnsafeRawBufferPointer(start: start, count: at - start), urgent: false)
        }
    }

    private static func put(_ text: StaticString, _ at: inout UnsafeMutablePointer<UInt8>) {
        at.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        at += text.utf8CodeUnitCount
    }
}
