import Foundation
import HTTPServer
import Testing

@Suite struct LimitTests {
    @Test func idleConnectionTimesOut() throws {
        try withServer(configure: { $0.connectionTimeoutSeconds = 1 }, router: echoRouter()) { server in
            let client = try RawHTTPClient(port: server.port)
            let started = ContinuousClock.now
            #expect(try client.waitForClose(timeout: .seconds(5)))
            #expect(ContinuousClock.now - started >= .milliseconds(500))
        }
    }

    @Test func perAddressConnectionLimitApplies() throws {
        try withServer(configure: { $0.perIPConnectionLimit = 2 }, router: echoRouter()) { server in
            let first = try RawHTTPClient(port: server.port)
            let second = try RawHTTPClient(port: server.port)
            for client in [first, second] {
                try client.send("GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try client.readResponse().status == 200)
            }
            let third = try RawHTTPClient(port: server.port)
            #expect(try third.waitForClose(timeout: .seconds(3)))
        }
    }
}
