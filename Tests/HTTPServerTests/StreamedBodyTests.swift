import Foundation
import HTTPServer
import Testing

/// A streamed body of `count` pattern bytes, written at most `piece` bytes a call; with `failAt`, the
/// writer fails once that many bytes are out; `chunked` announces no length.
struct PatternBody: StreamedBody {
    var count: Int
    var piece = Int.max
    var failAt: Int? = nil
    var chunked = false

    var length: UInt64? { chunked ? nil : UInt64(count) }

    static func byte(_ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: index &* 31 &+ index >> 8) }

    var bytes: [UInt8] { (0..<count).map(Self.byte) }

    func makeWriter() -> any BodyWriter { Writer(self) }

    final class Writer: BodyWriter {
        let body: PatternBody
        var position = 0

        init(_ body: PatternBody) { self.body = body }

        func write(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
            if let failAt = body.failAt, position >= failAt { return nil }
            let count = min(buffer.count, body.piece, body.count - position, (body.failAt ?? .max) - position)
            for index in 0..<count { buffer[index] = PatternBody.byte(position + index) }
            position += count
            return count
        }
    }
}

@Suite struct StreamedBodyTests {
    static func router(_ body: PatternBody) -> Router {
        var router = Router()
        router.get("/stream") { _ in HTTPResponse(status: 200, body: .stream(body)) }
        router.get("/after") { _ in .text("still here") }
        return router
    }

    /// Larger than one block (256 KiB) and not a multiple of it, in pieces that do not divide it either.
    @Test(arguments: [0, 1, 1000, (1 << 20) + 12_345])
    func sendsExactlyTheBytesWithTheirLength(count: Int) throws {
        let body = PatternBody(count: count, piece: 70_001)
        try withServer(router: Self.router(body)) { server in
            let result = try Curl.run(["-D", "/dev/stderr", "http://127.0.0.1:\(server.port)/stream"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == Data(body.bytes))
            #expect(result.stderr.contains("Content-Length: \(count)\r\n"), "\(result.stderr)")
        }
    }

    @Test func chunkedWhenTheLengthIsUnknown() throws {
        let body = PatternBody(count: 700_000, piece: 5000, chunked: true)
        try withServer(router: Self.router(body)) { server in
            let client = try RawHTTPClient(port: server.port)
            try client.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.header("Transfer-Encoding") == "chunked")
            #expect(response.header("Content-Length") == nil)
            #expect(response.body == body.bytes)
        }
    }

    @Test func headAnswersTheLengthAndWritesNothing() throws {
        let body = PatternBody(count: 300_000)
        try withServer(router: Self.router(body)) { server in
            let client = try RawHTTPClient(port: server.port)
            try client.send("HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try client.readResponse(head: true)
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "300000")
            // The same connection then answers a GET: the HEAD left no body bytes behind.
            try client.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
            let after = try client.readResponse()
            #expect(after.text == "still here")
        }
    }

    /// A writer that cannot go on closes the connection after what it wrote; the server serves on.
    @Test(arguments: [false, true])
    func aFailingWriterClosesTheConnection(chunked: Bool) throws {
        let body = PatternBody(count: 1 << 20, piece: 10_000, failAt: 400_000, chunked: chunked)
        try withServer(router: Self.router(body)) { server in
            let client = try RawHTTPClient(port: server.port)
            try client.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            // Read to the end of the stream (a timeout throws: the connection stayed open).
            let ended = try client.read(until: { _ in false }) == nil
            #expect(ended)
            let received = client.buffered
            let headerEnd = received.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound ?? received.count
            #expect(received.count - headerEnd < 1 << 20)
            if !chunked { #expect(Array(received[headerEnd...]) == Array(body.bytes.prefix(400_000))) }
            let after = try Curl.run(["http://127.0.0.1:\(server.port)/after"])
            #expect(after.text == "still here")
        }
    }

    /// One response value sent twice: each sending gets its own writer.
    @Test func aStreamedResponseCanBeSentTwice() throws {
        let body = PatternBody(count: 100_000, piece: 999)
        let response = HTTPResponse(status: 200, body: .stream(body))
        var router = Router()
        router.get("/same") { _ in response }
        try withServer(router: router) { server in
            for _ in 0..<2 {
                let result = try Curl.run(["http://127.0.0.1:\(server.port)/same"])
                #expect(result.stdout == Data(body.bytes))
            }
        }
        #expect(response.bodyBytes == body.bytes)
    }

    @Test func collectChecksTheLength() {
        #expect(PatternBody(count: 5000, piece: 7).collect(block: 100) == PatternBody(count: 5000).bytes)
        #expect(PatternBody(count: 5000, failAt: 10).collect() == nil)
        #expect(PatternBody(count: 5000, chunked: true).collect() == PatternBody(count: 5000).bytes)
    }
}
