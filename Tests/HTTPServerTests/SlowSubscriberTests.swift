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
        var received = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while !stop.load(ordering: .relaxed), ContinuousClock.now < deadline {
            do {
                // Wait for bytes not seen yet (bounded by the client's own timeout).
                let seen = received
                guard let bytes = try client.read(until: { $0.count > seen }, timeout: .seconds(1)) else { break }
                received = bytes.count
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
        #expect(!broadcaster.hasSubscribers)
        var router = Router()
        router.get("/events") { _ in .eventStream(broadcaster) }
        try withServer(router: router) { server in
            // The stalled client: a tiny receive buffer, and it never reads.
            let stalled = try RawHTTPClient(port: server.port, receiveBufferSize: 4096)
            try stalled.send("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let reader = try EventStreamReader(port: server.port)
            defer { reader.close() }
            #expect(eventually { broadcaster.subscriberCount == 2 })
            #expect(broadcaster.hasSubscribers)

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
            #expect(broadcaster.hasSubscribers, "the healthy reader is still there")
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

@Suite struct EventStreamStressTests {
    @Test func clientsComingAndGoingWhilePublishing() throws {
        let broadcaster = EventBroadcaster(queueCapacity: 256, keepAliveInterval: .milliseconds(20))
        var router = Router()
        router.get("/events") { _ in .eventStream(broadcaster) }
        var configuration = HTTPServerConfiguration.loopback()
        configuration.accessLog = false
        let server = HTTPServer(configuration: configuration, handler: router.handler)
        try server.start()
        let port = server.port
        let publishing = Atomic<Bool>(true)
        let publisherDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var id: UInt64 = 0
            while publishing.load(ordering: .relaxed), id < 200_000 {
                id += 1
                broadcaster.publish(id: id, event: "tick", data: #"{"n":\#(id)}"#)
                if id % 64 == 0 { usleep(200) }
            }
            publisherDone.signal()
        }
        // 40 short-lived clients: some read a little, some never read, all hang up.
        for round in 0..<40 {
            let client = try EventStreamTests.open(port, receiveBufferSize: round % 3 == 0 ? 4096 : nil)
            if round % 3 != 0 {
                _ = try client.read(until: { $0.count > 2048 }, timeout: .seconds(5))
            }
        }
        // Some clients are still connected when the server stops.
        let lingering = try (0..<5).map { _ in try EventStreamTests.open(port) }
        usleep(100_000)
        let started = ContinuousClock.now
        server.stop()
        #expect(ContinuousClock.now - started < .seconds(3))
        publishing.store(false, ordering: .relaxed)
        #expect(publisherDone.wait(timeout: .now() + 10) == .success)
        #expect(eventually { broadcaster.subscriberCount == 0 })
        #expect(!broadcaster.hasSubscribers)
        for client in lingering { #expect(try client.waitForClose(timeout: .seconds(3))) }
    }
}
