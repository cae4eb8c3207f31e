import Foundation
import HTTPServer
import JSON
import Testing

/// Echoes what the server parsed, so tests can check request building end to end.
func echoRouter() -> Router {
    var router = Router()
    router.add("GET", "/echo/{name}", echo)
    router.add("POST", "/echo/{name}", echo)
    router.put("/upload") { request in
        var digest: UInt64 = 1469598103934665603
        for byte in request.body { digest = (digest ^ UInt64(byte)) &* 1099511628211 }
        return .json(["length": .int(Int64(request.body.count)), "fnv": .string(String(digest, radix: 16))])
    }
    return router
}

@Sendable func echo(_ request: HTTPRequest) -> HTTPResponse {
    let query: [JSONValue] = request.query.items.map { [.string($0.key), .string($0.value)] }
    return .json([
        "method": .string(request.method),
        "path": .string(request.path),
        "rawURL": request.rawURL.map(JSONValue.string) ?? nil,
        "name": .string(request.parameter("name") ?? ""),
        "route": .string(request.routePattern ?? ""),
        "query": .array(query),
        "custom": .array(request.headers.values(for: "x-custom").map(JSONValue.string)),
        "body": .string(request.bodyText),
        "remote": .string(request.remoteAddress),
        "loopback": .bool(request.isLoopback),
        "tls": .bool(request.isTLS),
    ])
}

func fnv(_ bytes: [UInt8]) -> String {
    var digest: UInt64 = 1469598103934665603
    for byte in bytes { digest = (digest ^ UInt64(byte)) &* 1099511628211 }
    return String(digest, radix: 16)
}

func jsonObject(_ data: Data) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

@Suite struct ServerBasicsTests {
    @Test func requestPartsReachTheHandler() throws {
        try withServer(router: echoRouter()) { server in
            let url = "http://127.0.0.1:\(server.port)/echo/a%20b?x=1&y=two%20words&x=3&flag&p=a+b%2Bc"
            let result = try Curl.run(["-H", "X-Custom: one", "-H", "x-custom: two", url])
            #expect(result.status == 0, "\(result.stderr)")
            let object = try jsonObject(result.stdout)
            #expect(object["method"] as? String == "GET")
            #expect(object["path"] as? String == "/echo/a b")
            #expect(object["name"] as? String == "a b")
            #expect(object["route"] as? String == "/echo/{name}")
            #expect(object["rawURL"] as? String == "/echo/a%20b?x=1&y=two%20words&x=3&flag&p=a+b%2Bc")
            let query = object["query"] as? [[String]]
            #expect(query == [["x", "1"], ["y", "two words"], ["x", "3"], ["flag", ""], ["p", "a b+c"]])
            #expect(object["custom"] as? [String] == ["one", "two"])
            #expect(object["remote"] as? String == "127.0.0.1")
            #expect(object["loopback"] as? Bool == true)
            #expect(object["tls"] as? Bool == false)
        }
    }

    @Test func encodedNULInThePathIsRefusedAndKeptInQueryValues() throws {
        try withServer(router: echoRouter()) { server in
            let path = try Curl.run(["-i", "http://127.0.0.1:\(server.port)/echo/a%00b"])
            #expect(path.text.hasPrefix("HTTP/1.1 400"), "\(path.text)")
            #expect(path.text.contains(#""type":"/problems/bad-request""#))
            let invalid = try Curl.run(["-i", "http://127.0.0.1:\(server.port)/echo/a%FFb"])
            #expect(invalid.text.hasPrefix("HTTP/1.1 400"), "\(invalid.text)")
            let query = try Curl.run(["http://127.0.0.1:\(server.port)/echo/x?v=a%00b&w=%E2%82%AC"])
            let items = try jsonObject(query.stdout)["query"] as? [[String]]
            #expect(items == [["v", "a\u{0}b"], ["w", "€"]])
        }
    }

    @Test func smallBodyArrives() throws {
        try withServer(router: echoRouter()) { server in
            let result = try Curl.run([
                "-X", "POST", "--data-binary", "hello body", "http://127.0.0.1:\(server.port)/echo/x",
            ])
            #expect(try jsonObject(result.stdout)["body"] as? String == "hello body")
        }
    }

    @Test func multiMegabyteBodyArrivesWhole() throws {
        let bytes = (0..<(3 << 20) + 12345).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let file = temporaryPath("body")
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        defer { unlink(file) }
        try withServer(router: echoRouter()) { server in
            let result = try Curl.run([
                "-X", "PUT", "--data-binary", "@\(file)", "http://127.0.0.1:\(server.port)/upload",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let object = try jsonObject(result.stdout)
            #expect(object["length"] as? Int == bytes.count)
            #expect(object["fnv"] as? String == fnv(bytes))
        }
    }

    @Test func chunkedBodyArrivesWhole() throws {
        try withServer(router: echoRouter()) { server in
            let client = try RawHTTPClient(port: server.port)
            let chunks = ["first,", "second,", String(repeating: "z", count: 70_000)]
            var request = "POST /echo/c HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            for chunk in chunks { request += String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n" }
            request += "0\r\n\r\n"
            try client.send(request)
            let response = try client.readResponse()
            #expect(response.status == 200)
            let object = try jsonObject(Data(response.body))
            #expect(object["body"] as? String == chunks.joined())
        }
    }

    @Test func unknownRouteAndWrongMethodOverTheWire() throws {
        try withServer(router: echoRouter()) { server in
            let missing = try Curl.run(["-i", "http://127.0.0.1:\(server.port)/nothing/here"])
            #expect(missing.text.hasPrefix("HTTP/1.1 404"))
            #expect(missing.text.lowercased().contains("content-type: application/problem+json"))
            #expect(missing.text.contains(#""type":"/problems/not-found""#))
            let wrong = try Curl.run(["-i", "-X", "DELETE", "http://127.0.0.1:\(server.port)/echo/x"])
            #expect(wrong.text.hasPrefix("HTTP/1.1 405"))
            #expect(wrong.text.contains("Allow: GET, HEAD, POST\r\n"))
        }
    }

    @Test func keepAliveServesTwoRequestsOnOneConnection() throws {
        try withServer(router: echoRouter()) { server in
            let client = try RawHTTPClient(port: server.port)
            for index in 0..<3 {
                try client.send("GET /echo/k\(index) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.header("Connection")?.lowercased() != "close")
                #expect(try jsonObject(Data(response.body))["name"] as? String == "k\(index)")
            }
            // A POST with a body keeps the connection too.
            try client.send("POST /echo/p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            #expect(try jsonObject(Data(try client.readResponse().body))["body"] as? String == "abc")
            try client.send("GET /echo/last HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().status == 200)
        }
    }

    @Test func curlReusesTheConnection() throws {
        try withServer(router: echoRouter()) { server in
            let url = "http://127.0.0.1:\(server.port)/echo/x"
            let result = try Curl.run(["-v", url, "--next", url])
            #expect(
                result.stderr.contains("Re-using existing connection") || result.stderr.contains("Reusing existing"))
        }
    }
}
