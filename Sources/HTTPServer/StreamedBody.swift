/// A body written piece by piece straight into libmicrohttpd's send buffer while the client takes it,
/// for answers too large to build in memory first (a hexdump of 64 MiB is some 300 MB of text): the
/// first bytes leave before the last are made, and nothing is copied a second time.
///
/// The value is immutable and may be sent any number of times; each sending gets its own writer.
public protocol StreamedBody: Sendable {
    /// The exact number of bytes every writer produces: sent as `Content-Length` (and answered to `HEAD`
    /// without writing anything). Nil sends the body chunked.
    var length: UInt64? { get }

    /// A writer for one sending of the body. Called on the libmicrohttpd thread that answers.
    func makeWriter() -> any BodyWriter
}

/// Produces one sending of a `StreamedBody`. libmicrohttpd calls it on one thread at a time, in order,
/// each time its send buffer has room; the writer is released when the response is freed.
public protocol BodyWriter: AnyObject {
    /// Fills the start of `buffer` (never empty) with the next bytes and returns how many: at least one
    /// while the body goes on, 0 once it is complete. Nil when it cannot go on: the connection is then
    /// closed, so the client sees a body shorter than promised rather than a stalled one.
    func write(into buffer: UnsafeMutableRawBufferPointer) -> Int?
}

extension StreamedBody {
    /// Everything one writer produces, in `block`-byte pieces; nil if the writer fails or what it
    /// produces is not `length` bytes. For tests, and for callers that want the bytes after all.
    public func collect(block: Int = 64 * 1024) -> [UInt8]? {
        let writer = makeWriter()
        var bytes: [UInt8] = []
        if let length { bytes.reserveCapacity(Int(clamping: length)) }
        var buffer = [UInt8](repeating: 0, count: max(1, block))
        while true {
            let written = buffer.withUnsafeMutableBytes { writer.write(into: $0) }
            guard let written, written <= buffer.count else { return nil }
            if written == 0 { break }
            bytes.append(contentsOf: buffer[0..<written])
            if let length, bytes.count > length { return nil }
        }
        if let length, bytes.count != length { return nil }
        return bytes
    }
}

/// One sending of a streamed body, handed to libmicrohttpd as the callback's `cls`: the writer plus
/// where it stands, checked against the position libmicrohttpd asks for.
final class StreamedBodySending {
    let writer: any BodyWriter
    /// Bytes handed over so far.
    var position: UInt64 = 0

    init(_ writer: any BodyWriter) {
        self.writer = writer
    }
}
