import Foundation
import HTTPServer
import Synchronization
import Testing

@Suite struct DeferredResponseTests {
    /// `curl -i URL` on a thread of its own.
    final class Fetch: Sendable {
        let result = Mutex<Curl.Result?>(nil)
        let done = DispatchSemaphore(value: 0)

        init(_ url: String) {
            Thread.detachNewThread { [self] in
                let outcome = try? Curl.run(["-i", url])
                result.withLock { $0 = outcome }
                done.signal()
            }
        }

        var text: String? { result.withLock { $0?.text } }
    }

    @Test func aDeferredAnswerHoldsNoWorker() throws {
        let release = DispatchSemaphore(value: 0)
        var router = Router()
        router.get("/wait") { _ in
            .deferred {
                _ = release.wait(timeout: .now() + 10)
                return .text(status: 201, "waited")
            }
        }
        router.get("/quick") { _ in .text("quick") }
        let completions = CompletionLog()
        try withServer(configure: { $0.threadPoolSize = 1 }, router: router, completions: completions) { server in
            let port = server.port
            let waiting = try (0..<3).map { _ in try RawHTTPClient(port: port) }
            for client in waiting { try client.send("GET /wait HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") }
            #expect(eventually { server.requestsInFlight == 3 })
            // The only worker is free: another connection is answered while three wait.
            let started = ContinuousClock.now
            let quick = try RawHTTPClient(port: port)
            try quick.send("GET /quick HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let answer = try quick.readResponse(timeout: .seconds(5))
            #expect(answer.status == 200 && answer.text == "quick")
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(eventually { server.requestsInFlight == 3 }, "the quick one is done, three still wait")
            for _ in waiting { release.signal() }
            for client in waiting {
                let response = try client.readResponse(timeout: .seconds(10))
                #expect(response.status == 201 && response.text == "waited")
            }
            // The same connection serves the next request (keep-alive after a deferred answer).
            try waiting[0].send("GET /quick HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(try waiting[0].readResponse(timeout: .seconds(5)).text == "quick")
            let reports = completions.wait(for: 5)
            #expect(reports.filter { $0.route == "/wait" && $0.status == 201 }.count == 3)
        }
    }

    @Test func stopClosesWhatIsStillWaitingAfterItsGracePeriod() throws {
        let release = DispatchSemaphore(value: 0)
        let finished = Atomic<Int>(0)
        var router = Router()
        router.get("/wait") { _ in
            .deferred {
                _ = release.wait(timeout: .now() + 20)
                finished.add(1, ordering: .sequentiallyConsistent)
                return .text("too late")
            }
        }
        var configuration = HTTPServerConfiguration.loopback()
        configuration.accessLog = false
        configuration.shutdownGracePeriod = .milliseconds(500)
        let server = HTTPServer(configuration: configuration, handler: router.handler)
        try server.start()
        let fetch = Fetch("http://127.0.0.1:\(server.port)/wait")
        #expect(eventually { server.requestsInFlight == 1 })
        let started = ContinuousClock.now
        server.stop()
        #expect(ContinuousClock.now - started < .seconds(5), "stop waited for the work")
        #expect(fetch.done.wait(timeout: .now() + 10) == .success)
        let text = fetch.text ?? ""
        #expect(!text.hasPrefix("HTTP/1.1"), "closed unanswered: \(text)")
        release.signal()  // the work ends after the stop; its answer goes nowhere
        #expect(eventually { finished.load(ordering: .sequentiallyConsistent) == 1 })
        usleep(100_000)
        #expect(!server.isRunning)
    }

    @Test func resolvingRunsTheWorkHere() {
        var router = Router()
        router.get("/wait") { _ in .deferred { .text(status: 201, "made") } }
        let response = router.respond(to: HTTPRequest(method: "GET", path: "/wait"))
        #expect(response.isDeferred)
        let resolved = response.resolvingDeferred()
        #expect(!resolved.isDeferred && resolved.status == 201 && resolved.routePattern == "/wait")
        #expect(resolved.bodyBytes == Array("made".utf8))
    }
}
