import Foundation
import HTTPServer
import Testing

@Suite struct FileResponseTests {
    static func router(file: String) -> Router {
        var router = Router()
        router.get("/file") { request in
            let offset = request.query["offset"].flatMap { UInt64($0) } ?? 0
            let length = request.query["length"].flatMap { UInt64($0) }
            do {
                return .file(try FileRegion(path: file, offset: offset, length: length))
            } catch {
                return .problem(.internalError("\(error)"))
            }
        }
        return router
    }

    static func makeFile() throws -> (path: String, bytes: [UInt8]) {
        let bytes = (0..<(1 << 20) + 777).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        let path = temporaryPath("region")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (path, bytes)
    }

    @Test func fileRegionSendsExactlyItsBytes() throws {
        let (path, bytes) = try Self.makeFile()
        defer { unlink(path) }
        try withServer(router: Self.router(file: path)) { server in
            let whole = try Curl.run(["http://127.0.0.1:\(server.port)/file"])
            #expect(whole.stdout == Data(bytes))
            let part = try Curl.run(["-D", "-", "http://127.0.0.1:\(server.port)/file?offset=4097&length=10000"])
            #expect(part.text.contains("Content-Length: 10000\r\n"))
            #expect(part.stdout.suffix(10000) == Data(bytes[4097..<14097]))
        }
    }

    @Test func headAnswersTheLengthWithoutTheBody() throws {
        let (path, bytes) = try Self.makeFile()
        defer { unlink(path) }
        try withServer(router: Self.router(file: path)) { server in
            let client = try RawHTTPClient(port: server.port)
            try client.send("HEAD /file?offset=10 HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try client.readResponse(head: true)
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "\(bytes.count - 10)")
            #expect(head.header("Content-Type") == "application/octet-stream")
            // The same connection then serves a GET: no body bytes were left behind by the HEAD.
            try client.send("GET /file?offset=0&length=5 HTTP/1.1\r\nHost: x\r\n\r\n")
            let get = try client.readResponse()
            #expect(get.body == Array(bytes[0..<5]))
        }
    }

    @Test func aRegionCanBeSentTwiceAndOwnsItsDescriptor() throws {
        let (path, bytes) = try Self.makeFile()
        defer { unlink(path) }
        let region = try FileRegion(path: path, offset: 1, length: 3)
        let response = HTTPResponse.file(region)
        var router = Router()
        router.get("/same") { _ in response }
        try withServer(router: router) { server in
            for _ in 0..<2 {
                let result = try Curl.run(["http://127.0.0.1:\(server.port)/same"])
                #expect(result.stdout == Data(bytes[1..<4]))
            }
        }
        #expect(fcntl(region.descriptor, F_GETFD) >= 0)
    }
}
