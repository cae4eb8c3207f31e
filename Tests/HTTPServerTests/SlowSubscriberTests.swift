import Foundation
import HTTPServer
import Synchronization
import Testing

/// Reads an event stream on its own thread and records the ids of complete events.
final class EventStreamReader: Sendable {
    private struct State {
        var ids: [UInt64] = []
        var finished = false
        var failure: String?
    }

    private let state = Mutex(State())
    private let stop = Atomic<Bool>(false)

    init(port: UInt16) throws {
        let client = try RawHTTPClient(port: port)
        try client.send("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let box = UncheckedBox(client)
        Thread.detachNewThread { [self] in self.run(box.value) }
    }

    var ids: [UInt64] { state.withLock { $0.ids } }
    var finished: Bool { state.withLock { $0.finished } }

    func close() { stop.store(true, ordering: .relaxed) }

    private func run(_ client: RawHTTPClient) {
        var scanned = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while !stop.load(ordering: .relaxed), ContinuousClock.now < deadline {
            do {
                // Wait for more bytes than already scanned (bounded by the client's own timeout).
                guard let bytes = try client.read(until: { $0.count > scanned }, timeout: .seconds(1)) else { break }
                // Only whole lines are parsed (bytewise: "\r\n" is one Character); the rest is rescanned.
                guard let lastNewline = bytes[scanned...].lastIndex(of: UInt8(ascii: "\n")) else { continue }
                let lines = bytes[scanned...lastNewline].split(separator: UInt8(ascii: "\n"))
                scanned = lastNewline + 1
                let found = lines.compactMap { line -> UInt64? in
                    guard line.starts(with: Array("id: ".utf8)) else { return nil }
                    return UInt64(String(decoding: line.dropFirst(4), as: UTF8.self))
                }
                if !found.isEmpty { state.withLock { $0.ids += found } }
            } catch {
                if "\(error)".contains("timed out") { continue }
                break
            }
        }
        state.withLock { $0.finished = true }
    }
}

struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

@Suite struct SlowSubscriberTests {
    @Test func stalledSubscriberIsDroppedWhileAnotherReceivesEverything() throws {
        let broadcaster = EventBroadcaster(queueCapacity: 64, keepAliveInterval: .seconds(60))
        var router = Router()
        router.get("/events") { _ in .eventStream(broadcaster) }
        try withServer(router: router) { server in
            // The stalled client: a tiny receive buffer, and it never reads.
            let stalled = try RawHTTPClient(port: server.port, receiveBufferSize: 4096)
            try stalled.send("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let reader = try EventStreamReader(port: server.port)
            defer { reader.close() }
            #expect(eventually { broadcaster.subscriberCount == 2 })

            // 4 KiB events, published in batches the healthy reader keeps up with, until the stalled one
            // overflows (its socket buffers fill first) — bounded at 4000 events (16 MiB).
            let payload = String(repeating: "x", count: 4096)
            var published: UInt64 = 0
            let started = ContinuousClock.now
            while published < 4000, ContinuousClock.now - started < .seconds(30) {
                for _ in 0..<32 {
                    published += 1
                    broadcaster.publish(id: published, event: "fill", data: payload)
                }
                let target = Int(published)
                #expect(
                    eventually(timeout: .seconds(5)) { reader.ids.count >= target }, "\(reader.ids.count) of \(target)")
                if broadcaster.droppedCount > 0 && published >= 512 { break }
            }
            #expect(broadcaster.droppedCount == 1)
            #expect(broadcaster.subscriberCount == 1)
            // The stalled client's connection ends (it reads what was buffered, then the end).
            #expect(try stalled.waitForClose(timeout: .seconds(10)))
            // After the drop the healthy reader still gets every event, in order.
            for _ in 0..<10 {
                published += 1
                broadcaster.publish(id: published, event: "after", data: "{}")
            }
            let total = Int(published)
            #expect(eventually { reader.ids.count == total })
            #expect(reader.ids == Array(1...published))
        }
    }
}
