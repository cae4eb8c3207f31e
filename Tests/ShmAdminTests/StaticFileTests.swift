import HTTPServer
import Testing

@testable import ShmAdmin

/// The dashboard's files: public, typed, and nothing outside `static/`.
@Suite struct StaticFileTests {
    static func contents(_ response: HTTPResponse) -> [UInt8]? {
        guard case .file(let region) = response.body else { return nil }
        return preadAll(region.descriptor, offset: Int64(region.offset), count: Int(region.length))
    }

    @Test(arguments: [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/static/index.html", "index.html", "text/html; charset=utf-8"),
        ("/static/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/static/style.css", "style.css", "text/css; charset=utf-8"),
    ])
    func servesDashboardFiles(path: String, file: String, type: String) throws {
        let box = try APIHarness(readToken: APIHarness.readToken)
        defer { box.close() }
        let response = box.call("GET", path, token: nil)
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"] == type)
        #expect(response.headers["X-Content-Type-Options"] == "nosniff")
        #expect(response.headers["Content-Security-Policy"]?.contains("default-src 'self'") == true)
        let expected = readBytes(repositoryRoot + "/static/" + file, offset: 0, count: 1 << 24)
        #expect(expected?.isEmpty == false)
        #expect(Self.contents(response) == expected)
    }

    /// Paths as libmicrohttpd hands them over: already percent-decoded (`%2e%2e%2f` is `../`).
    @Test(arguments: [
        "/static/../openapi.json", "/static/js/../../openapi.json", "/static/./index.html", "/static/.hidden",
        "/static/..", "/static/a\\..\\openapi.json", "/static//etc/passwd", "/static/index.html/",
        "/static/no-such-file.js", "/static/../../../../etc/passwd", "/static/index.html\u{0}.js",
    ])
    func nothingOutsideTheStaticDirectory(path: String) throws {
        let box = try APIHarness()
        defer { box.close() }
        let response = box.call("GET", path, token: nil)
        #expect(response.status == 404, "\(path)")
        #expect(response.headers["Content-Type"] == "application/problem+json")
    }
}
