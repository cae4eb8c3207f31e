import Glibc

/// A tiny blocking HTTP/1.1 client over one socket, for tests that must control the connection:
/// keep-alive, stalled readers, bodies sent in pieces. Every read has a deadline.
final class RawHTTPClient {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        var text: String { String(decoding: body, as: UTF8.self) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to 127.0.0.1:`port`.
    init(port: UInt16, receiveBufferSize: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        if var size = receiveBufferSize {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        // No close here: every stored property is set, so a throw still runs deinit, which closes the
        // socket. Closing it here as well closed whatever descriptor another test's thread had been
        // given that number meanwhile (a section's object failed with EBADF in a parallel test).
        guard result == 0 else { throw Failure(description: "connect to port \(port) failed: errno \(errno)") }
    }

    deinit { close(fd) }

    /// Bytes received and not yet consumed by `readResponse`.
    var buffered: [UInt8] { buffer }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    /// Reads at least one more chunk into the buffer; false at end of stream.
    private func fill(deadline: ContinuousClock.Instant) throws -> Bool {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { throw Failure(description: "timed out waiting for data") }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: remaining.components.seconds * 1000 + 1)
        let ready = poll(&poller, 1, max(1, milliseconds))
        if ready == 0 { throw Failure(description: "timed out waiting for data") }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        if count < 0 { throw Failure(description: "recv failed: errno \(errno)") }
        if count == 0 { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    /// Reads until `predicate` holds for the bytes received so far (not consumed); nil at end of stream.
    func read(until predicate: ([UInt8]) -> Bool, timeout: Duration = .seconds(10)) throws -> [UInt8]? {
        let deadline = ContinuousClock.now + timeout
        while !predicate(buffer) {
            guard try fill(deadline: deadline) else { return predicate(buffer) ? buffer : nil }
        }
        return buffer
    }

    /// Whether the server closed the connection within `timeout` (buffered data is discarded).
    func waitForClose(timeout: Duration = .seconds(10)) throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                guard try fill(deadline: deadline) else { return true }
            } catch let failure as Failure where failure.description.hasPrefix("recv failed") {
                return true
            }
            buffer.removeAll(keepingCapacity: true)
        }
    }

    /// Reads one response; `head` skips the body (HEAD requests).
    func readResponse(head: Bool = false, timeout: Duration = .seconds(10)) throws -> Response {
        let deadline = ContinuousClock.now + timeout
        var headerEnd: Int? = nil
        while headerEnd == nil {
            headerEnd = buffer.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound
            if headerEnd == nil, try !fill(deadline: deadline) { throw Failure(description: "closed before headers") }
        }
        let headText = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
        buffer.removeFirst(headerEnd!)
        var lines = headText.split(separator: "\r\n").map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw Failure(description: "bad status line")
        }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmedSpaces)
        }
        var response = Response(status: status, headers: headers, body: [])
        if head || status == 204 || status == 304 { return response }
        if let length = response.header("Content-Length").flatMap(Int.init) {
            while buffer.count < length {
                guard try fill(deadline: deadline) else { throw Failure(description: "closed inside the body") }
            }
            response.body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        } else if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            response.body = try readChunked(deadline: deadline)
        } else {
            while try fill(deadline: deadline) {}
            response.body = buffer
            buffer = []
        }
        return response
    }

    private func readChunked(deadline: ContinuousClock.Instant) throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            var lineEnd = buffer.firstRange(of: Array("\r\n".utf8))
            while lineEnd == nil {
                guard try fill(deadline: deadline) else { throw Failure(description: "closed inside a chunk") }
                lineEnd = buffer.firstRange(of: Array("\r\n".utf8))
            }
            let sizeText = String(decoding: buffer[0..<lineEnd!.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";")[0], radix: 16) else {
                throw Failure(description: "bad chunk size \(sizeText)")
            }
            buffer.removeFirst(lineEnd!.upperBound)
            while buffer.count < size + 2 {
                guard try fill(deadline: deadline) else { throw Failure(description: "closed inside a chunk") }
            }
            body += buffer[0..<size]
            buffer.removeFirst(size + 2)
            if size == 0 { return body }
        }
    }
}

extension String {
    var trimmedSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
