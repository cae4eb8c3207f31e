import HTTPServer
import JSON

/// The access log: one line per finished request, in the format of every other log line
/// (`2026-11-23T19:34:45.123Z info shm-admin: GET /api/v1/sections 200 bytes=35526 duration_us=412
/// remote=127.0.0.1`), written straight into the `LogSink`. Through swift-log, each line cost a
/// `Logger.Message`, a `LogEvent`, string interpolations and their copies: 6 % of the server's time
/// for the polled listing (bench 1). Here it is built in one byte buffer (integers by
/// `JSONValue.writeInteger`).
struct AccessLog: Sendable {
    let sink: LogSink
    let label: String

    func write(_ report: CompletedRequest) {
        var line: [UInt8] = []
        line.reserveCapacity(128 + label.utf8.count)
        LineLogHandler.appendTimestamp(&line)
        line.append(contentsOf: " info ".utf8)
        LineLogHandler.appendEscaped(&line, label)
        line.append(contentsOf: ": ".utf8)
        LineLogHandler.appendEscaped(&line, report.method)
        line.append(UInt8(ascii: " "))
        LineLogHandler.appendEscaped(&line, report.route ?? "-")
        line.append(UInt8(ascii: " "))
        JSONValue.writeInteger(Int64(report.status), to: &line)
        line.append(contentsOf: " bytes=".utf8)
        JSONValue.writeInteger(Int64(clamping: report.bytesSent), to: &line)
        line.append(contentsOf: " duration_us=".utf8)
        JSONValue.writeInteger(Int64(max(0, report.durationSeconds * 1_000_000)), to: &line)
        line.append(contentsOf: " remote=".utf8)
        LineLogHandler.appendEscaped(&line, report.remoteAddress)
        if report.outcome == .aborted { line.append(contentsOf: " aborted".utf8) }
        line.append(UInt8(ascii: "\n"))
        sink.write(line, urgent: false)
    }
}
