import HTTPServer
import Testing

@testable import ShmAdmin

/// `JSONBody` (content type, closed member set, typed members, sizes) and `Query`.
@Suite struct RequestDecodingTests {
    static func request(_ body: String, contentType: String? = "application/json") -> HTTPRequest {
        HTTPRequest(
            method: "POST", path: "/x", headers: HTTPHeaders(contentType.map { [("Content-Type", $0)] } ?? []),
            body: Array(body.utf8))
    }

    /// The problem a body is refused with, or nil when it is accepted.
    static func refusal(
        _ body: String, contentType: String? = "application/json", allowed: Set<String> = ["a", "b"],
        optional: Bool = false
    ) -> ProblemDetails? {
        do {
            _ = try JSONBody(request(body, contentType: contentType), allowed: allowed, optional: optional)
            return nil
        } catch {
            return error.problem
        }
    }

    static func body(_ text: String, allowed: Set<String> = ["a", "b"]) throws -> JSONBody {
        try JSONBody(request(text), allowed: allowed)
    }

    @Test func unknownFieldIs400NamingIt() {
        let problem = Self.refusal(#"{"a":1,"zzz":2}"#)
        #expect(problem?.status == 400)
        #expect(problem?.type == "/problems/bad-request")
        #expect(problem?.detail?.contains("zzz") == true)
        #expect(problem?.detail?.contains("a, b") == true)
    }

    @Test(arguments: [
        "application/json", "application/json; charset=utf-8", "Application/JSON", "application/json ;charset=UTF-8",
        "application/merge-patch+json", "application/problem+json",
    ])
    func jsonContentTypesAreAccepted(contentType: String) {
        #expect(Self.refusal(#"{"a":1}"#, contentType: contentType) == nil)
    }

    @Test(
        arguments: [
            nil, "", "text/plain", "application/octet-stream", "application/x-www-form-urlencoded", "text/json",
            "application/jsonx", "application/json5", "multipart/form-data; boundary=x", "json",
        ] as [String?])
    func otherContentTypesAre415(contentType: String?) {
        let problem = Self.refusal(#"{"a":1}"#, contentType: contentType)
        #expect(problem?.status == 415)
        #expect(problem?.type == "/problems/unsupported-media-type")
    }

    @Test(arguments: ["", "[1]", "\"a\"", "1", "null", "{", #"{"a":1,"a":2}"#, "{} {}"])
    func malformedOrNonObjectBodiesAre400(text: String) {
        let problem = Self.refusal(text)
        #expect(problem?.status == 400, "\(text)")
        #expect(problem?.type == "/problems/bad-request")
    }

    @Test func anEmptyOptionalBodyIsAnEmptyObjectWhateverItsType() throws {
        #expect(Self.refusal("", contentType: nil, optional: true) == nil)
        let body = try JSONBody(Self.request("", contentType: nil), allowed: ["a"], optional: true)
        #expect(!body.has("a"))
        // A body that is present is still checked.
        #expect(Self.refusal(#"{"a":1}"#, contentType: "text/plain", optional: true)?.status == 415)
    }

    @Test(
        arguments: [
            ("4096", 4096), ("0", 0), (#""4096""#, 4096), (#""64KiB""#, 65536), (#""64K""#, 65536),
            (#""1 MiB""#, 1 << 20), (#""1 ""#, 1), (#""64MiB""#, 64 << 20), (#""1G""#, 1 << 30), (#""1GiB""#, 1 << 30),
            (#""1TiB""#, 1 << 40), (#""2T""#, 2 << 40), (#""9223372036854775807""#, .max),
            ("9223372036854775807", .max), (#""8388607TiB""#, 8_388_607 << 40),
        ] as [(String, Int64)])
    func sizesAsIntegersAndStrings(json: String, expected: Int64) throws {
        let body = try Self.body(#"{"a":\#(json)}"#)
        #expect(try body.size("a") == expected)
    }

    @Test(arguments: [
        "1.5", "4096.0", "1e3", "-1", "-4096", "9223372036854775808", "1e30", #""1.5MiB""#, #""-1""#, #""""#,
        #""KiB""#, #""1kib""#, #""1  KiB""#, #"" 1KiB""#, #""1KB""#, #""1EiB""#, #""1PiB""#,
        #""0x10""#, #""9223372036854775808""#, #""8388608TiB""#, #""1MiBx""#, "true", "[1]", #"{"n":1}"#,
    ])
    func badSizesAre422(json: String) throws {
        let body = try Self.body(#"{"a":\#(json)}"#)
        do {
            let size = try body.size("a")
            Issue.record("\(json) was taken as the size \(String(describing: size))")
        } catch {
            #expect(error.problem.status == 422, "\(json)")
            #expect(error.problem.type == "/problems/invalid-size", "\(json)")
        }
    }

    @Test func absentAndNullMembersAreNil() throws {
        let body = try Self.body(#"{"a":null}"#)
        #expect(try body.size("a") == nil)
        #expect(try body.size("b") == nil)
        #expect(try body.string("a") == nil)
        #expect(try body.integer("a") == nil)
        #expect(try body.bool("a") == nil)
        #expect(!body.has("a"))
    }

    @Test func typedMembers() throws {
        let body = try Self.body(#"{"a":"text","b":true}"#)
        #expect(try body.string("a") == "text")
        #expect(try body.bool("b") == true)
        #expect(throws: APIFailure.self) { try body.integer("a") }
        #expect(throws: APIFailure.self) { try body.bool("a") }
        #expect(throws: APIFailure.self) { try body.string("b") }
        let fraction = try Self.body(#"{"a":1.5}"#)
        do {
            _ = try fraction.integer("a")
            Issue.record("a fraction was taken as an integer")
        } catch {
            #expect(error.problem.status == 422)
        }
    }

    @Test func labelsAreAnObjectOfStrings() throws {
        #expect(try Self.body(#"{"a":{"app":"matcher","x":""}}"#).labels("a") == ["app": "matcher", "x": ""])
        #expect(throws: APIFailure.self) { try Self.body(#"{"a":{"n":1}}"#).labels("a") }
        #expect(throws: APIFailure.self) { try Self.body(#"{"a":["x"]}"#).labels("a") }
    }

    // MARK: - Query

    static func query(_ items: [(String, String)]) -> Query {
        Query(request: HTTPRequest(method: "GET", path: "/x", query: QueryParameters(items)))
    }

    static func problem(_ body: () throws(APIFailure) -> Void) -> ProblemDetails? {
        do {
            try body()
            return nil
        } catch {
            return error.problem
        }
    }

    @Test func queryIntegersBoolsAndChoices() throws {
        let query = Self.query([("n", "12"), ("t", "TRUE"), ("f", "0"), ("c", "hex"), ("bad", "1x")])
        #expect(try query.integer("n") == 12)
        #expect(try query.integer("absent", default: 7) == 7)
        #expect(try query.bool("t") == true)
        #expect(try query.bool("f") == false)
        #expect(try query.bool("absent") == nil)
        #expect(try query.choice("c", ["hex", "raw"]) == "hex")
        let refusals = [
            Self.problem { () throws(APIFailure) in _ = try query.integer("bad") },
            Self.problem { () throws(APIFailure) in _ = try query.integer("n", range: 0...10) },
            Self.problem { () throws(APIFailure) in _ = try query.bool("bad") },
            Self.problem { () throws(APIFailure) in _ = try query.choice("c", ["raw"]) },
        ]
        for problem in refusals {
            #expect(problem?.status == 400)
            #expect(problem?.type == "/problems/bad-request")
        }
    }
}
