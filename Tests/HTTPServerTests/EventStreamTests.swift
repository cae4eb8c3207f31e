import Foundation
import Synchronization
import Testing

@testable import HTTPServer

@Suite struct EventStreamTests {
    static func router(_ broadcaster: EventBroadcaster) -> Router {
        var router = Router()
        router.get("/events") { _ in .eventStream(broadcaster) }
        router.get("/ping") { _ in .text("pong") }
        return router
    }

    static func open(_ port: UInt16, receiveBufferSize: Int32? = nil) throws -> RawHTTPClient {
        let client = try RawHTTPClient(port: port, receiveBufferSize: receiveBufferSize)
        try client.send("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        return client
    }

    static func text(_ bytes: [UInt8]?) -> String { String(decoding: bytes ?? [], as: UTF8.self) }

    @Test func connectedCommentThenEventsInOrder() throws {
        let broadcaster = EventBroadcaster(keepAliveInterval: .seconds(60))
        try withServer(router: Self.router(broadcaster)) { server in
            let client = try Self.open(server.port)
            let head = try client.read(until: { Self.text($0).contains(": connected\n\n") }, timeout: .seconds(5))
            let headText = Self.text(head)
            #expect(headText.hasPrefix("HTTP/1.1 200"))
            #expect(headText.contains("Content-Type: text/event-stream\r\n"))
            #expect(headText.contains("Cache-Control: no-cache\r\n"))
            #expect(eventually { broadcaster.subscriberCount == 1 })
            for id in 1...3 {
                broadcaster.publish(id: UInt64(id), event: "grown", data: #"{"id":\#(id),"section":"s\#(id)"}"#)
            }
            let all = try client.read(until: { Self.dechunk(Self.text($0)).hasSuffix("\"s3\"}\n\n") })
            let text = Self.text(all)
            let expected = (1...3).map { #"id: \#($0)\#nevent: grown\#ndata: {"id":\#($0),"section":"s\#($0)"}\#n\#n"# }
            // The body is chunked: remove the chunk framing before comparing the event text.
            let body = Self.dechunk(text)
            #expect(body == ": connected\n\n" + expected.joined(), "\(body)")
        }
    }

    /// Strips HTTP/1.1 chunk framing from a response received so far (headers dropped; a partial chunk
    /// at the end is left out).
    static func dechunk(_ response: String) -> String {
        let bytes = Array(response.utf8)
        let crlf = Array("\r\n".utf8)
        guard var position = bytes.firstRange(of: crlf + crlf)?.upperBound else { return "" }
        var out: [UInt8] = []
        while let lineEnd = bytes[position...].firstRange(of: crlf) {
            let sizeText = String(decoding: bytes[position..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText, radix: 16), size > 0, lineEnd.upperBound + size <= bytes.count else { break }
            out += bytes[lineEnd.upperBound..<lineEnd.upperBound + size]
            position = min(bytes.count, lineEnd.upperBound + size + 2)
        }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func keepAliveCommentsArriveAtTheInterval() throws {
        let broadcaster = EventBroadcaster(keepAliveInterval: .milliseconds(150))
        try withServer(router: Self.router(broadcaster)) { server in
            let client = try Self.open(server.port)
            let started = ContinuousClock.now
            let received = try client.read(
                until: { Self.text($0).components(separatedBy: ": keep-alive\n\n").count >= 4 }, timeout: .seconds(5))
            #expect(received != nil)
            #expect(ContinuousClock.now - started >= .milliseconds(300))
        }
    }

    @Test func idleSubscriberIsSuspendedNotPolled() throws {
        let broadcaster = EventBroadcaster(keepAliveInterval: .seconds(60))
        try withServer(router: Self.router(broadcaster)) { server in
            let client = try Self.open(server.port)
            _ = try client.read(until: { Self.text($0).contains(": connected\n\n") })
            #expect(eventually { broadcaster.subscriberCount == 1 })
            let subscriber = try #require(broadcaster.subscribers.first)
            #expect(eventually { subscriber.isSuspended })
            let before = subscriber.readCalls
            let cpuBefore = processCPUSeconds()
            usleep(1_000_000)
            let calls = subscriber.readCalls - before
            let cpu = processCPUSeconds() - cpuBefore
            // A busy-polling stream would call the reader thousands of times a second.
            #expect(calls == 0, "reader called \(calls) times while idle; process CPU \(cpu) s")
            if ProcessInfo.processInfo.environment["HTTPSERVER_TEST_REPORT_CPU"] != nil {
                Issue.record("idle subscriber: process CPU \(cpu) s over 1 s, reader calls \(calls)")
            }
            broadcaster.publish(id: 1, event: "e", data: "{}")
            _ = try client.read(until: { Self.text($0).contains("id: 1\n") })
            #expect(eventually { subscriber.isSuspended })
        }
    }

    @Test func clientThatLeavesIsUnsubscribed() throws {
        let broadcaster = EventBroadcaster(keepAliveInterval: .seconds(60))
        let completions = CompletionLog()
        try withServer(router: Self.router(broadcaster), completions: completions) { server in
            do {
                let client = try Self.open(server.port)
                _ = try client.read(until: { Self.text($0).contains(": connected\n\n") })
                #expect(eventually { broadcaster.subscriberCount == 1 })
            }
            // A suspended connection notices the disconnect when it next writes.
            var published: UInt64 = 0
            let gone = eventually {
                published += 1
                broadcaster.publish(id: published, event: "e", data: "{}")
                return broadcaster.subscriberCount == 0
            }
            #expect(gone)
            let report = completions.wait(for: 1).first
            #expect(report?.route == "/events")
            #expect(report?.status == 200)
            #expect((report?.bytesSent ?? 0) >= UInt64(": connected\n\n".utf8.count))
        }
    }

    @Test func stopEndsStreamsPromptly() throws {
        let broadcaster = EventBroadcaster(keepAliveInterval: .seconds(60))
        var configuration = HTTPServerConfiguration.loopback()
        configuration.accessLog = false
        let server = HTTPServer(configuration: configuration, handler: Self.router(broadcaster).handler)
        try server.start()
        let client = try Self.open(server.port)
        _ = try client.read(until: { Self.text($0).contains(": connected\n\n") })
        #expect(eventually { broadcaster.subscriberCount == 1 })
        let started = ContinuousClock.now
        server.stop()
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(try client.waitForClose(timeout: .seconds(3)))
        #expect(broadcaster.subscriberCount == 0)
    }
}

/// User plus system CPU time of this process, from getrusage.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return user + system
}
