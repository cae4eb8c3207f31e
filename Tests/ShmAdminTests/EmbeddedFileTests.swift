import Foundation
import HTTPServer
import Testing

@testable import ShmAdmin

/// The dashboard and openapi.json built into the binary (the EmbedDashboard plugin): byte for byte
/// the checkout's files, with the same headers as from disk, and nothing else.
@Suite struct EmbeddedFileTests {
    static let dashboardFiles: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/static")) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }()

    @Test func everyDashboardFileIsEmbedded() throws {
        #expect(Self.dashboardFiles.count >= 10)
        let box = try APIHarness(embedded: true)
        defer { box.close() }
        for name in Self.dashboardFiles {
            let response = box.call("GET", "/static/" + name, token: nil)
            let expected = readBytes(repositoryRoot + "/static/" + name, offset: 0, count: 1 << 24)
            #expect(response.status == 200, "\(name)")
            #expect(response.bodyBytes == expected, "\(name)")
            #expect(response.headers["X-Content-Type-Options"] == "nosniff")
            #expect(response.headers["Content-Security-Policy"]?.contains("default-src 'self'") == true)
        }
        let index = box.call("GET", "/", token: nil)
        #expect(index.headers["Content-Type"] == "text/html; charset=utf-8")
        #expect(index.bodyBytes == readBytes(repositoryRoot + "/static/index.html", offset: 0, count: 1 << 24))
    }

    @Test func openAPIIsEmbedded() throws {
        let box = try APIHarness(embedded: true)
        defer { box.close() }
        let response = box.call("GET", "/openapi.json")
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"]?.hasPrefix("application/json") == true)
        #expect(response.bodyBytes == readBytes(repositoryRoot + "/openapi.json", offset: 0, count: 1 << 24))
    }

    @Test(arguments: ["/static/../openapi.json", "/static/openapi.json", "/static/.hidden", "/static/no-such.js"])
    func nothingElseIsServed(path: String) throws {
        let box = try APIHarness(embedded: true)
        defer { box.close() }
        #expect(box.call("GET", path, token: nil).status == 404, "\(path)")
    }
}
