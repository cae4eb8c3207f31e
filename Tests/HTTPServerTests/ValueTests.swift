import JSON
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

    @Test func valuesThatWriteThemselvesBecomeResponses() {
        struct Point: JSONRepresentable, ResponseRepresentable {
            var x: Int64
            var label: String
            func write(to json: inout JSONWriter) {
                json.beginObject()
                json.key("x")
                json.int(x)
                json.key("label")
                json.string(label)
                json.endObject()
            }
        }
        let plain = Point(x: -3, label: "/a\"b").response()
        #expect(plain.status == 200)
        #expect(plain.headers["content-type"] == "application/json")
        #expect(String(decoding: plain.bodyBytes, as: UTF8.self) == #"{"x":-3,"label":"/a\"b"}"#)
        let created = JSONResponse(status: 201, Point(x: 1, label: "")).response()
        #expect(created.status == 201)
        #expect(String(decoding: created.bodyBytes, as: UTF8.self) == #"{"x":1,"label":""}"#)
        let literal = HTTPResponse.json(["status": "ok", "n": [1, nil]])
        #expect(String(decoding: literal.bodyBytes, as: UTF8.self) == #"{"status":"ok","n":[1,null]}"#)
    }

    @Test func writerMemoryIsHandedOverWithoutACopy() {
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
