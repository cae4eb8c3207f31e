import Foundation
import HTTPServer
import Synchronization
import Testing

@Suite struct LifecycleTests {
    @Test func stopWaitsForTheRequestInFlight() throws {
        var router = Router()
        router.get("/slow") { _ in
            usleep(700_000)
            return .text("finished")
        }
        var configuration = HTTPServerConfiguration.loopback()
        configuration.accessLog = false
        let server = HTTPServer(configuration: configuration, handler: router.handler)
        try server.start()
        let port = server.port
        let result = Mutex<Curl.Result?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let outcome = try? Curl.run(["-i", "http://127.0.0.1:\(port)/slow"])
            result.withLock { $0 = outcome }
            done.signal()
        }
        #expect(eventually { server.requestsInFlight == 1 })
        let started = ContinuousClock.now
        server.stop()
        let took = ContinuousClock.now - started
        #expect(done.wait(timeout: .now() + 10) == .success)
        let text = result.withLock { $0?.text } ?? ""
        #expect(text.hasPrefix("HTTP/1.1 200"))
        #expect(text.hasSuffix("finished"))
        #expect(took >= .milliseconds(300) && took < .seconds(5), "stop took \(took)")
        #expect(!server.isRunning)
        // Nothing listens any more.
        let refused = try Curl.run(["http://127.0.0.1:\(port)/slow"], maxTime: 5)
        #expect(refused.status == 7, "curl exit \(refused.status): \(refused.stderr)")
        server.stop()  // idempotent
    }

    @Test func stopIsQuickWhenIdleEvenWithKeepAliveConnections() throws {
        var configuration = HTTPServerConfiguration.loopback()
        configuration.accessLog = false
        let server = HTTPServer(configuration: configuration, handler: echoRouter().handler)
        try server.start()
        let client = try RawHTTPClient(port: server.port)
        try client.send("GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        let started = ContinuousClock.now
        server.stop()
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(try client.waitForClose(timeout: .seconds(2)))
    }

    @Test func portInUseIsAClearError() throws {
        try withServer(router: echoRouter()) { first in
            let second = HTTPServer(configuration: .loopback(port: first.port), handler: echoRouter().handler)
            #expect {
                try second.start()
            } throws: { error in
                guard let error = error as? HTTPServerError else { return false }
                return error.code == .bind && error.errno == EADDRINUSE && error.systemCall == "bind"
                    && error.description.contains("Address already in use")
                    && error.description.contains("127.0.0.1:\(first.port)")
            }
            #expect(!second.isRunning)
        }
    }

    @Test func startTwiceIsRefused() throws {
        try withServer(router: echoRouter()) { server in
            #expect(throws: HTTPServerError.self) { try server.start() }
        }
    }

    @Test func invalidAddressIsRefused() {
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(endpoint: .tcp(host: "localhost", port: 0)),
            handler: echoRouter().handler)
        #expect(throws: HTTPServerError(.invalidConfiguration, "not an IPv4 or IPv6 address: localhost")) {
            try server.start()
        }
    }

    @Test func ipv6LoopbackServes() throws {
        try withServer(configure: { $0.endpoint = .tcp(host: "::1", port: 0) }, router: echoRouter()) { server in
            let result = try Curl.run(["-g", "http://[::1]:\(server.port)/echo/six"])
            let object = try jsonObject(result.stdout)
            #expect(object["remote"] as? String == "::1")
            #expect(object["loopback"] as? Bool == true)
        }
    }

    @Test func completionHookReportsEachRequestOnce() throws {
        let completions = CompletionLog()
        try withServer(router: echoRouter(), completions: completions) { server in
            let client = try RawHTTPClient(port: server.port)
            try client.send("GET /echo/a?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            let first = try client.readResponse()
            try client.send("HEAD /echo/b HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try client.readResponse(head: true)
            try client.send("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try client.readResponse()
            let reports = completions.wait(for: 3)
            #expect(reports.count == 3)
            #expect(reports.map(\.method) == ["GET", "HEAD", "GET"])
            #expect(reports.map(\.route) == ["/echo/{name}", "/echo/{name}", nil])
            #expect(reports.map(\.status) == [200, 200, 404])
            #expect(reports[0].bytesSent == UInt64(first.body.count))
            #expect(reports[1].bytesSent == 0)
            #expect(reports.allSatisfy { $0.durationSeconds >= 0 && $0.durationSeconds < 5 })
            #expect(reports.allSatisfy { $0.outcome == .completed })
            usleep(100_000)
            #expect(completions.all.count == 3)
        }
    }

    @Test func headOfABytesResponseHasItsLength() throws {
        try withServer(router: echoRouter()) { server in
            let client = try RawHTTPClient(port: server.port)
            try client.send("GET /echo/h HTTP/1.1\r\nHost: x\r\n\r\n")
            let get = try client.readResponse()
            try client.send("HEAD /echo/h HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try client.readResponse(head: true)
            #expect(head.status == 200)
            // The echo differs only in "method", which is one byte longer for HEAD.
            #expect(head.header("Content-Length") == "\(get.body.count + 1)")
            try client.send("GET /echo/h HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().body == get.body)
        }
    }
}
