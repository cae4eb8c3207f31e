import Testing

@testable import HTTPServer

@Suite struct ValueTests {
    @Test func problemJSONHasStandardMembersThenExtras() {
        let problem = ProblemDetails(
            type: "/problems/section-mapped", title: "Section Mapped", status: 409, detail: "a \"b\"\n",
            extras: [("pids", [1, 2]), ("status", "ignored"), ("limit", .int(5))])
        let response = HTTPResponse.problem(problem)
        #expect(response.status == 409)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        let text = String(decoding: response.bodyBytes, as: UTF8.self)
        #expect(
            text
                == #"{"type":"/problems/section-mapped","title":"Section Mapped","status":409,"detail":"a \"b\"\n","pids":[1,2],"limit":5}"#
        )
    }

    @Test func jsonEscapesControlCharacters() {
        let value: JSONValue = ["k": .string("\u{01}é\t"), "n": nil, "b": true, "d": 1.5]
        #expect(String(decoding: value.serialized(), as: UTF8.self) == #"{"k":"\u0001é\t","n":null,"b":true,"d":1.5}"#)
    }

    @Test(arguments: [Int64.min, -1_000_000_007, -1, 0, 7, 10, 4096, 1_234_567_890_123, Int64.max])
    func jsonIntegersAreWrittenExactly(_ value: Int64) {
        #expect(String(decoding: JSONValue.int(value).serialized(), as: UTF8.self) == String(value))
    }

    @Test func jsonStringsWithAndWithoutEscapes() {
        let value: JSONValue = ["plain": "abc é 🎉", "quoted": "a\"b\\c\u{7f}"]
        #expect(
            String(decoding: value.serialized(), as: UTF8.self)
                == #"{"plain":"abc é 🎉","quoted":"a\"b\\c\u007f"}"#)
    }

    @Test func jsonEncodableUsesSortedKeys() {
        struct Body: Encodable {
            var zeta = 1
            var alpha = "/x"
        }
        let response = HTTPResponse.json(status: 201, Body())
        #expect(response.status == 201)
        #expect(response.headers["content-type"] == "application/json")
        #expect(String(decoding: response.bodyBytes, as: UTF8.self) == #"{"alpha":"/x","zeta":1}"#)
    }

    @Test func jsonValueIsEncodableInsideOtherTypes() throws {
        struct Wrapper: Encodable {
            var labels: JSONValue
        }
        let response = HTTPResponse.json(Wrapper(labels: ["app": "matcher", "n": [1, nil]]))
        #expect(String(decoding: response.bodyBytes, as: UTF8.self) == #"{"labels":{"app":"matcher","n":[1,null]}}"#)
        let literal = HTTPResponse.json(["status": "ok"])
        #expect(String(decoding: literal.bodyBytes, as: UTF8.self) == #"{"status":"ok"}"#)
    }

    @Test func invalidStatusBecomes500OverTheWire() throws {
        var router = Router()
        router.get("/bad") { _ in HTTPResponse(status: 42) }
        try withServer(router: router) { server in
            let result = try Curl.run(["-i", "http://127.0.0.1:\(server.port)/bad"])
            #expect(result.text.hasPrefix("HTTP/1.1 500"))
            #expect(result.text.contains("/problems/internal"))
        }
    }

    @Test func headersAreCaseInsensitiveAndKeepRepeats() {
        var headers: HTTPHeaders = ["Accept": "a", "ACCEPT": "b"]
        #expect(headers["accept"] == "a")
        #expect(headers.values(for: "Accept") == ["a", "b"])
        headers.set("accept", "c")
        #expect(headers.values(for: "Accept") == ["c"])
        #expect(headers.count == 1)
    }

    @Test func headerNamesFoldOnlyASCIILetters() {
        let headers: HTTPHeaders = ["Content-Length": "1", "X-A_B": "2", "X-\u{e9}": "3"]
        #expect(headers["content-LENGTH"] == "1")
        #expect(headers["x-a_b"] == "2")
        // `_` (0x5F) and DEL (0x7F) differ by the case bit: only letters fold.
        #expect(headers["X-A\u{7f}B"] == nil)
        #expect(headers["x-\u{c9}"] == nil)  // no Unicode case folding: names are ASCII tokens
        #expect(headers["Content-Lengt"] == nil)
        #expect(headers["Content-Lengths"] == nil)
    }

    @Test(
        arguments: [
            (0x7F00_0001, "127.0.0.1"), (0, "0.0.0.0"), (0xFFFF_FFFF, "255.255.255.255"), (0x0A00_FF09, "10.0.255.9"),
        ] as [(UInt32, String)])
    func dottedQuad(address: UInt32, text: String) {
        #expect(HTTPServer.dottedQuad(address) == text)
    }

    @Test func jsonWriterMatchesTheValueTree() {
        var json = JSONWriter()
        json.beginObject()
        json.key("a")
        json.string("x\"y\n")
        json.key("empty")
        json.beginObject()
        json.endObject()
        json.key("list")
        json.beginArray()
        json.int(-3)
        json.bool(true)
        json.null()
        json.beginArray()
        json.endArray()
        json.value(.object([("k", .int(1))]))
        json.endArray()
        json.key(data: "la\tbel")
        json.asciiString(maximumLength: 8) { at in
            for (index, byte) in "0600".utf8.enumerated() { at[index] = byte }
            return 4
        }
        json.endObject()
        let tree = JSONValue.object([
            ("a", .string("x\"y\n")), ("empty", .object([])),
            ("list", .array([.int(-3), .bool(true), .null, .array([]), .object([("k", .int(1))])])),
            ("la\tbel", .string("0600")),
        ])
        #expect(String(decoding: json.finish(), as: UTF8.self) == String(decoding: tree.serialized(), as: UTF8.self))
        // Past the initial capacity, with every kind of escape, handed over without a copy.
        var long = JSONWriter(capacity: 16)
        long.beginArray()
        let texts = (0..<2_000).map { "s\($0)\u{1}\"\\\r\u{7f}é" }
        for (index, text) in texts.enumerated() {
            long.string(text)
            long.int(Int64(index) * -7_919)
        }
        long.endArray()
        let shared = long.finishShared()
        let expected = JSONValue.array(texts.enumerated().flatMap { [.string($1), .int(Int64($0) * -7_919)] })
        #expect(shared.array == expected.serialized())
        // Every integer width, both ends included.
        let numbers: [Int64] =
            [Int64.min, Int64.max, 0, -1, 9, 10, 99, 100, -100, 1_000_000_007] + (0..<19).map { 1 << ($0 * 3) }
        var ints = JSONWriter()
        ints.beginArray()
        for number in numbers { ints.int(number) }
        ints.endArray()
        #expect(ints.finish() == JSONValue.array(numbers.map { .int($0) }).serialized())
        var empty = JSONWriter()
        empty.beginArray()
        empty.endArray()
        #expect(empty.finish() == Array("[]".utf8))
    }

    @Test func sharedBytesAreSentWholeAndStayIntactAcrossRequests() throws {
        let body = SharedBytes((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        var router = Router()
        router.get("/shared") { _ in .json(shared: body) }
        try withServer(router: router) { server in
            for _ in 0..<3 {
                let result = try Curl.run(["-s", "http://127.0.0.1:\(server.port)/shared"])
                #expect(Array(result.stdout) == body.array)
            }
            let head = try Curl.run(["-sI", "http://127.0.0.1:\(server.port)/shared"])
            #expect(head.text.lowercased().contains("content-length: 200000"))
        }
        #expect(body.array.count == 200_000)
    }

    @Test func serverSentEventSplitsDataLines() {
        let event = ServerSentEvent(id: 7, event: "gr\nown", data: "{\"a\":1}\nsecond")
        #expect(
            String(decoding: event.encoded, as: UTF8.self) == "id: 7\nevent: grown\ndata: {\"a\":1}\ndata: second\n\n")
        #expect(String(decoding: ServerSentEvent.comment("connected"), as: UTF8.self) == ": connected\n\n")
    }

    @Test func errorDescriptionNamesTheCallAndErrno() {
        let error = HTTPServerError(.bind, "cannot listen on 127.0.0.1:1", errno: 98, systemCall: "bind")
        #expect(error.description == "cannot listen on 127.0.0.1:1: bind: Address already in use (errno 98)")
    }
}
