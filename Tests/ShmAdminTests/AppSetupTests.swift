import Foundation
import HTTPServer
import Logging
import Testing

@testable import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

/// `ShmAdminApp` as `shm-admin serve` builds it (not started: no socket): the exposure rules it
/// enforces at start, the admin token it makes, the route table it serves.
@Suite struct AppSetupTests {
    static func options(_ state: String) -> ServeOptions {
        var options = ServeOptions(
            stateDirectory: state, staticDirectory: repositoryRoot + "/static",
            openAPIPath: repositoryRoot + "/openapi.json")
        options.port = 0
        options.shmDirectory = "/dev/shm"
        return options
    }

    static func stateDirectory() -> String { "/tmp/t-api-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-app" }

    @Test func anAppMakesItsAdminTokenAndServesTheDocumentedRoutes() throws {
        let state = Self.stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let app = try ShmAdminApp(options: Self.options(state), logger: Logger(label: "shm-admin-test"))
        defer { app.stop() }

        let tokenPath = state + "/admin-token"
        let token = String(decoding: readBytes(tokenPath, offset: 0, count: 4096) ?? [], as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.wholeMatch(of: /[0-9a-f]{64}/) != nil)
        #expect(fileStatus(tokenPath).map { $0.st_mode & 0o777 } == 0o600)
        #expect(app.bannerLines.count == 2)
        #expect(app.bannerLines.first?.hasPrefix("shm-admin listening on http://127.0.0.1:") == true)
        #expect(app.bannerLines.last?.hasSuffix("/#token=" + token) == true)

        let served = Set(app.routes.map(RouteTableTests.normalised))
        #expect(served == Set(try RouteTableTests.documentedOperations().keys))

        // The same token again after a restart.
        app.stop()
        let again = try ShmAdminApp(options: Self.options(state), logger: Logger(label: "shm-admin-test"))
        defer { again.stop() }
        #expect(again.bannerLines.last?.hasSuffix("#token=" + token) == true)
    }

    @Test func exposureRulesAreCheckedAtStart() throws {
        let state = Self.stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let logger = Logger(label: "shm-admin-test")

        var remote = Self.options(state)
        remote.bind = "0.0.0.0"
        #expect(throws: SetupError.self) { try ShmAdminApp(options: remote, logger: logger) }
        remote.allowRemote = true
        #expect(throws: SetupError.self, "a non-loopback bind needs a read token") {
            try ShmAdminApp(options: remote, logger: logger)
        }

        var halfTLS = Self.options(state)
        halfTLS.tlsCertificate = state + "/cert.pem"
        #expect(throws: SetupError.self) { try ShmAdminApp(options: halfTLS, logger: logger) }

        var missingToken = Self.options(state)
        missingToken.tokenFile = state + "/no-such-token"
        #expect(throws: SetupError.self, "a given token file is never created") {
            try ShmAdminApp(options: missingToken, logger: logger)
        }
    }
}
