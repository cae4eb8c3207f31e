import Logging
import SystemPackage
import Testing

@testable import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct LineLogHandlerTests {
    /// Logs through a handler writing to a pipe and returns what came out.
    static func logged(_ body: (Logger) -> Void) -> String {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        var logger = Logger(label: "test.label") {
            LineLogHandler(label: $0, descriptor: FileDescriptor(rawValue: ends[1]))
        }
        logger.logLevel = .info
        body(logger)
        close(ends[1])
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(ends[0], &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func oneLinePerEventWithTimestampLevelLabelAndSortedMetadata() throws {
        let text = Self.logged { logger in
            logger.info("first", metadata: ["b": "2", "a": "1"])
            logger.debug("below the level")
            logger.error("second")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines[2].isEmpty, "\(text)")
        // 2026-11-23T19:34:45.123Z info test.label: first a=1 b=2
        let first = try #require(lines.first)
        #expect(first.count > 25)
        let stamp = first.prefix(24)
        #expect(stamp.dropFirst(4).first == "-" && stamp.dropFirst(10).first == "T" && stamp.last == "Z", "\(stamp)")
        #expect(first.dropFirst(24) == " info test.label: first a=1 b=2")
        #expect(lines[1].hasSuffix(" error test.label: second"))
    }

    @Test func controlCharactersCannotForgeALine() {
        let text = Self.logged { logger in
            logger.warning("name a\nb\u{7f}", metadata: ["k\r": "v\n2"])
        }
        #expect(text.hasSuffix(" warning test.label: name a\\u{0a}b\\u{7f} k\\u{0d}=v\\u{0a}2\n"), "\(text)")
        #expect(text.filter { $0 == "\n" }.count == 1)
    }

    /// A pipe whose read end does not block: what a sink has written so far.
    final class Pipe {
        let read: Int32
        let write: Int32

        init() {
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            (read, write) = (ends[0], ends[1])
            _ = fcntl(read, F_SETFL, fcntl(read, F_GETFL) | O_NONBLOCK)
            _ = fcntl(write, 1031, 1 << 20)  // F_SETPIPE_SZ (GNU): room for a 64 KiB batch and more
        }

        deinit {
            close(read)
            close(write)
        }

        func drain() -> String {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = Glibc.read(read, &buffer, buffer.count)
                if count <= 0 { break }
                bytes += buffer[0..<count]
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// A logger labelled `t` at `info`, writing through `sink`.
    static func logger(to sink: LogSink) -> Logger {
        var logger = Logger(label: "t") { LineLogHandler(label: $0, sink: sink) }
        logger.logLevel = .info
        return logger
    }

    @Test func bufferedSinkHoldsInfoUntilFlushAndWritesWarningsAtOnceInOrder() {
        let out = Pipe()
        let sink = LogSink(descriptor: FileDescriptor(rawValue: out.write), bufferInterval: 60)
        let logger = Self.logger(to: sink)
        logger.info("one")
        logger.info("two")
        #expect(out.drain().isEmpty, "info lines wait")
        #expect(sink.waitingBytes > 0)
        logger.warning("three")
        let text = out.drain()
        let messages = text.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 2).last.map(String.init) }
        #expect(messages == ["t: one", "t: two", "t: three"], "\(text)")
        logger.info("four")
        #expect(out.drain().isEmpty)
        sink.flush()
        #expect(out.drain().hasSuffix(" info t: four\n"))
        #expect(sink.waitingBytes == 0)
    }

    @Test func bufferedSinkWritesWithinItsIntervalAndAtItsLimit() {
        let out = Pipe()
        let sink = LogSink(descriptor: FileDescriptor(rawValue: out.write), bufferInterval: 0.05)
        let logger = Self.logger(to: sink)
        logger.info("soon")
        var text = ""
        let deadline = ContinuousClock.now + .seconds(5)
        while text.isEmpty && ContinuousClock.now < deadline {
            usleep(10_000)
            text = out.drain()
        }
        #expect(text.hasSuffix(" info t: soon\n"), "written by the interval's flush")

        let slow = LogSink(descriptor: FileDescriptor(rawValue: out.write), bufferInterval: 600)
        let many = Self.logger(to: slow)
        let line = String(repeating: "x", count: 1000)
        var lines = 0
        while out.drain().isEmpty && lines < 200 {
            many.info("\(line)")
            lines += 1
        }
        #expect(lines > 50 && lines <= LogSink.bufferLimit / 1000 + 1, "written once 64 KiB waited: \(lines) lines")
        slow.flush()
    }
}
