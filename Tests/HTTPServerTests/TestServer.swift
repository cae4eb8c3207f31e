import Foundation
import HTTPServer
import Logging
import Synchronization

/// Starts a real server on 127.0.0.1 port 0 (or the given endpoint) for one test and stops it after.
@discardableResult
func withServer<T>(
    configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    router: Router,
    completions: CompletionLog? = nil,
    _ body: (HTTPServer) throws -> T
) throws -> T {
    var configuration = HTTPServerConfiguration.loopback()
    configuration.accessLog = false
    configure(&configuration)
    var logger = Logger(label: "test.http")
    logger.logLevel = .critical
    var onCompleted: (@Sendable (CompletedRequest) -> Void)? = nil
    if let completions { onCompleted = { completions.append($0) } }
    let server = HTTPServer(
        configuration: configuration, logger: logger, onCompleted: onCompleted, handler: router.handler)
    try server.start()
    defer { server.stop() }
    return try body(server)
}

/// Collects `CompletedRequest` reports from worker threads.
final class CompletionLog: Sendable {
    private let entries = Mutex<[CompletedRequest]>([])

    func append(_ entry: CompletedRequest) { entries.withLock { $0.append(entry) } }

    var all: [CompletedRequest] { entries.withLock { $0 } }

    /// Waits (bounded) until `count` reports have arrived.
    func wait(for count: Int, timeout: Duration = .seconds(5)) -> [CompletedRequest] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, all.count < count { usleep(5_000) }
        return all
    }
}

/// A unique temporary path (not created).
func temporaryPath(_ name: String) -> String {
    NSTemporaryDirectory() + "/httpserver-test-\(getpid())-\(UUID().uuidString.prefix(8))-\(name)"
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
