import Foundation
import HTTPServer
import Testing

@Suite struct BodyLimitTests {
    static func limited(_ configuration: inout HTTPServerConfiguration) {
        configuration.maxBodyBytes = 64 * 1024
    }

    @Test func declaredOversizeBodyGets413AndTheServerStillAnswers() throws {
        let completions = CompletionLog()
        try withServer(configure: Self.limited, router: echoRouter(), completions: completions) { server in
            let file = temporaryPath("big")
            try Data(repeating: 0x61, count: 2 << 20).write(to: URL(fileURLWithPath: file))
            defer { unlink(file) }
            let result = try Curl.run([
                "-i", "-X", "PUT", "--data-binary", "@\(file)", "http://127.0.0.1:\(server.port)/upload",
            ])
            #expect(result.text.hasPrefix("HTTP/1.1 413"), "\(result.text.prefix(200)) \(result.stderr)")
            #expect(result.text.contains("application/problem+json"))
            #expect(result.text.contains(#""type":"/problems/payload-too-large""#))
            #expect(result.text.contains(#""limit":65536"#))
            let after = try Curl.run(["http://127.0.0.1:\(server.port)/echo/after"])
            #expect(try jsonObject(after.stdout)["name"] as? String == "after")
            let reports = completions.wait(for: 2)
            #expect(reports.first?.status == 413)
        }
    }

    /// Content-Length is found whatever its case: an oversize body is refused before it is sent, and a
    /// second Content-Length in another case is ambiguous framing (400).
    @Test func contentLengthIsMatchedCaseInsensitively() throws {
        try withServer(configure: Self.limited, router: echoRouter()) { server in
            let client = try RawHTTPClient(port: server.port)
            try client.send("PUT /upload HTTP/1.1\r\nHost: x\r\ncontent-LENGTH: \(2 << 20)\r\n\r\n")
            #expect(try client.readResponse().status == 413)
            let twice = try RawHTTPClient(port: server.port)
            try twice.send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nab")
            #expect(try twice.readResponse().status == 400)
        }
    }

    @Test func bodyExactlyAtTheLimitIsAccepted() throws {
        try withServer(configure: Self.limited, router: echoRouter()) { server in
            let client = try RawHTTPClient(port: server.port)
            let body = [UInt8](repeating: 0x62, count: 64 * 1024)
            try client.send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n")
            try client.send(body)
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(try jsonObject(Data(response.body))["length"] as? Int == body.count)
        }
    }

    static func sendChunks(_ client: RawHTTPClient, count: Int) throws -> Int {
        try client.send("PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = String(repeating: "c", count: 16 * 1024)
        for index in 0..<count {
            do {
                try client.send(String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n")
            } catch {
                return index
            }
        }
        return count
    }

    @Test func chunkedOversizeBodyGets413AtItsEndAndTheServerStillAnswers() throws {
        let completions = CompletionLog()
        try withServer(configure: Self.limited, router: echoRouter(), completions: completions) { server in
            let client = try RawHTTPClient(port: server.port)
            #expect(try Self.sendChunks(client, count: 16) == 16)  // 256 KiB, four times the limit
            try client.send("0\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 413)
            #expect(response.text.contains(#""type":"/problems/payload-too-large""#))
            // The body was read to its end, so the connection can even be reused.
            try client.send("GET /echo/same HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().status == 200)
            #expect(completions.wait(for: 2).map(\.status) == [413, 200])
        }
    }

    @Test func endlessChunkedBodyIsCutOff() throws {
        try withServer(configure: Self.limited, router: echoRouter()) { server in
            let client = try RawHTTPClient(port: server.port)
            // 4 MiB offered, far past the discard allowance (1 MiB for this limit): the server closes.
            let sent = try Self.sendChunks(client, count: 256)
            let closed = try sent < 256 || client.waitForClose()
            #expect(closed)
            let after = try RawHTTPClient(port: server.port)
            try after.send("GET /echo/ok HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try after.readResponse().status == 200)
        }
    }
}
