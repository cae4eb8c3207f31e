import Logging
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
        var logger = Logger(label: "test.label") { LineLogHandler(label: $0, descriptor: ends[1]) }
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
}
