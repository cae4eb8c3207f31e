import Dispatch
import Logging
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A log handler that writes each message as one line with one `write(2)`:
/// `2026-11-23T19:34:45.123Z info shm-admin: message key=value …`.
///
/// The access log writes a line per request, so the cost of a line is part of every request
/// (swift-log's `StreamLogHandler` was far too slow for that: bench/ANALYSIS.md). A line is built in
/// one byte buffer and handed to the kernel whole, so lines of concurrent requests do not interleave; a
/// `LogSink` with a buffer interval also gathers the lines below `warning` into one write.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let sink: LogSink

    /// A handler for `label` writing each line at once to `descriptor` (standard error by default).
    public init(label: String, descriptor: FileDescriptor = .standardError) {
        self.init(label: label, sink: LogSink(descriptor: descriptor))
    }

    /// A handler for `label` writing through `sink` (shared by every handler of the process).
    public init(label: String, sink: LogSink) {
        self.label = label
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line: [UInt8] = []
        line.reserveCapacity(160)
        Self.appendTimestamp(&line)
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: event.level.rawValue.utf8)
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: label.utf8)
        line.append(contentsOf: ": ".utf8)
        Self.appendEscaped(&line, "\(event.message)")
        let extra = event.metadata ?? [:]
        if !metadata.isEmpty || !extra.isEmpty {
            let merged = metadata.merging(extra) { _, new in new }
            for key in merged.keys.sorted() {
                line.append(UInt8(ascii: " "))
                Self.appendEscaped(&line, key)
                line.append(UInt8(ascii: "="))
                Self.appendEscaped(&line, "\(merged[key]!)")
            }
        }
        line.append(UInt8(ascii: "\n"))
        sink.write(line, urgent: event.level >= .warning)
    }

    /// Appends `text`, with control characters (a newline in a client-chosen name) written as `\u{..}`,
    /// so one event stays one line and a client cannot forge log lines.
    static func appendEscaped(_ line: inout [UInt8], _ text: String) {
        guard !text.isEmpty else { return }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: escapedBound(text)) { buffer in
            line.append(contentsOf: buffer[..<writeEscaped(text, at: buffer.baseAddress!)])
        }
    }

    /// The most `writeEscaped` writes for `text`: six bytes (`\u{hh}`) for each of its bytes.
    static func escapedBound(_ text: String) -> Int { 6 * text.utf8.count }

    /// `text` at `start` as `appendEscaped` appends it (the access log writes its line on the stack);
    /// returns how many bytes, at most `escapedBound(text)`.
    static func writeEscaped(_ text: String, at start: UnsafeMutablePointer<UInt8>) -> Int {
        var text = text
        return text.withUTF8 { bytes in
            let digits: StaticString = "0123456789abcdef"
            var at = start
            for byte in bytes {
                if byte >= 0x20 && byte != 0x7F {
                    at.pointee = byte
                    at += 1
                } else {
                    at[0] = UInt8(ascii: "\\")
                    at[1] = UInt8(ascii: "u")
                    at[2] = UInt8(ascii: "{")
                    at[3] = digits.utf8Start[Int(byte >> 4)]
                    at[4] = digits.utf8Start[Int(byte & 15)]
                    at[5] = UInt8(ascii: "}")
                    at += 6
                }
            }
            return at - start
        }
    }

    /// UTC with milliseconds, e.g. `2026-11-23T19:34:45.123Z` (the API's timestamps, to the millisecond).
    static func appendTimestamp(_ line: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Render.timestampBound) { buffer in
            let count = writeTimestamp(at: buffer.baseAddress!)
            line.append(contentsOf: buffer[0..<count])
        }
    }

    /// The timestamp of `appendTimestamp` written at `at` (at most `Render.timestampBound` bytes); returns
    /// its length.
    static func writeTimestamp(at: UnsafeMutablePointer<UInt8>) -> Int {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        // Half a millisecond in, so that the fraction's binary rounding cannot drop a millisecond.
        let seconds = Double(now.tv_sec) + (Double(now.tv_nsec / 1_000_000) + 0.5) / 1_000
        return Render.writeTimestamp(seconds, milliseconds: true, at: at)
    }
}

/// Where log lines go. Without a buffer interval, each line is one `write(2)`. With one, lines
/// below `warning` (at `info`, the access log's line per request) are gathered and written together
/// at most that long after the first of them, or as soon as 64 KiB are waiting, like nginx's
/// `access_log … buffer= flush=`; a `warning` or worse first writes what is waiting, then itself.
/// What is waiting is lost if the process is killed; `flush()` at start and at
/// shutdown writes it.
public final class LogSink: Sendable {
    public let descriptor: FileDescriptor
    public let bufferInterval: Double?
    static let bufferLimit = 64 << 10

    private struct Pending {
        var bytes: [UInt8] = []
        var flushScheduled = false
    }

    private let pending = Mutex(Pending())
    /// Held while writing, so that batches and urgent lines reach the descriptor in order.
    private let output = Mutex(())

    /// Standard error, lines below `warning` gathered for up to 100 ms (the server's logs).
    public static let standardError = LogSink(descriptor: .standardError, bufferInterval: 0.1)

    public init(descriptor: FileDescriptor, bufferInterval: Double? = nil) {
        self.descriptor = descriptor
        self.bufferInterval = bufferInterval
    }

    func write(_ line: [UInt8], urgent: Bool) {
        line.withUnsafeBytes { write($0, urgent: urgent) }
    }

    func write(_ line: UnsafeRawBufferPointer, urgent: Bool) {
        guard let interval = bufferInterval, !urgent else {
            output.withLock { _ in
                writeWaiting()
                Self.writeAll(descriptor, line)
            }
            return
        }
        let (full, schedule) = pending.withLock { waiting -> (Bool, Bool) in
            waiting.bytes.append(contentsOf: line)
            if waiting.bytes.count >= Self.bufferLimit { return (true, false) }
            if waiting.flushScheduled { return (false, false) }
            waiting.flushScheduled = true
            return (false, true)
        }
        if full { flush() }
        if schedule { DispatchQueue.global().asyncAfter(deadline: .now() + interval) { [self] in flush() } }
    }

    /// Writes the lines that are waiting now.
    public func flush() { output.withLock { _ in writeWaiting() } }

    /// Lines waiting to be written (tests).
    var waitingBytes: Int { pending.withLock { $0.bytes.count } }

    private func writeWaiting() {
        let bytes = pending.withLock { waiting in
            defer {
                waiting.bytes = []
                waiting.flushScheduled = false
            }
            return waiting.bytes
        }
        if !bytes.isEmpty { bytes.withUnsafeBytes { Self.writeAll(descriptor, $0) } }
    }

    /// Writes all of `bytes`, retrying interrupted writes; a closed or full log must not stop the server.
    private static func writeAll(_ descriptor: FileDescriptor, _ bytes: UnsafeRawBufferPointer) {
        _ = try? descriptor.writeAll(bytes)
    }
}
