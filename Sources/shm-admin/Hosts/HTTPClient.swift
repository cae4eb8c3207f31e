import CCurl

#if canImport(Glibc)
    import Glibc
#endif

/// A small blocking HTTP client over libcurl for the remote mode: `http://`, `https://` and
/// `unix:PATH` base URLs, a bearer token, bodies streamed to a sink as they arrive.
///
/// libcurl rather than async-http-client: it is a C library Debian keeps, speaks all three
/// transports including a Unix socket, streams without an event loop, and costs no build minutes; a
/// one-shot command needs nothing asynchronous. It is loaded on the first request (CCurl).
final class HTTPClient {
    struct Response {
        var status: Int
        var contentType: String
        var body: [UInt8]
    }

    /// Why no answer came: the transfer failed (connection refused, TLS, name resolution), or
    /// libcurl could not be loaded (`libraryMissing`: nothing was sent).
    struct TransferError: Error {
        var message: String
        var libraryMissing = false
    }

    private let base: String
    private let unixSocket: String?
    private let token: String?

    /// `url`: `http://HOST:PORT`, `https://…` or `unix:PATH`.
    init?(url: String, token: String?) {
        if url.hasPrefix("unix:") {
            unixSocket = String(url.dropFirst(5))
            base = "http://localhost"
        } else if url.hasPrefix("http://") || url.hasPrefix("https://") {
            unixSocket = nil
            base = url.hasSuffix("/") ? String(url.dropLast()) : url
        } else {
            return nil
        }
        self.token = token
    }

    /// Loads libcurl the first time (CCurl), or says why it cannot be.
    private static func loadLibrary() throws(TransferError) {
        var reason = [CChar](repeating: 0, count: 512)
        guard ccurl_load(&reason, reason.count) == 0 else {
            let text = String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw TransferError(message: "\(text) (Debian: apt-get install libcurl4)", libraryMissing: true)
        }
    }

    /// What a transfer hands its callbacks.
    private final class Exchange {
        var body: [UInt8] = []
        var contentType = ""
        var sink: ((UnsafeRawBufferPointer) -> Bool)?
        var keepGoing: () -> Bool = { true }
        var handle: UnsafeMutableRawPointer?
    }

    /// The most a Content-Length makes `send` reserve before the body comes.
    static let reservedAtMost = 64 << 20

    /// Sends one request. With `sink`, a successful (2xx) body goes to it piece by piece instead of
    /// into `body`; `sink` or `keepGoing` answering false ends the transfer early (no error).
    func send(
        _ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil,
        sink: ((UnsafeRawBufferPointer) -> Bool)? = nil, keepGoing: @escaping () -> Bool = { true }
    ) throws(TransferError) -> Response {
        try Self.loadLibrary()
        guard let curl = ccurl_easy_init() else { throw TransferError(message: "libcurl could not start") }
        defer { ccurl_easy_cleanup(curl) }
        let exchange = Exchange()
        exchange.sink = sink
        exchange.keepGoing = keepGoing
        exchange.handle = curl
        let context = Unmanaged.passUnretained(exchange).toOpaque()

        ccurl_set_string(curl, CURLOPT_URL, base + path)
        ccurl_set_string(curl, CURLOPT_CUSTOMREQUEST, method)
        if method == "HEAD" { ccurl_set_long(curl, CURLOPT_NOBODY, 1) }
        if let unixSocket { ccurl_set_string(curl, CURLOPT_UNIX_SOCKET_PATH, unixSocket) }
        ccurl_set_long(curl, CURLOPT_CONNECTTIMEOUT, 10)
        var headers: UnsafeMutablePointer<curl_slist>?
        if let token { headers = ccurl_slist_append(headers, "Authorization: Bearer " + token) }
        if let contentType { headers = ccurl_slist_append(headers, "Content-Type: " + contentType) }
        headers = ccurl_slist_append(headers, "Expect:")  // no 100-continue round trip for bodies
        defer { ccurl_slist_free_all(headers) }
        ccurl_set_headers(curl, headers)
        ccurl_set_receiver(
            curl,
            { data, size, count, context in
                let exchange = Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue()
                let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
                let status = ccurl_response_code(exchange.handle)
                if let sink = exchange.sink, (200..<300).contains(status) {
                    return sink(bytes) ? size * count : 0
                }
                exchange.body.append(contentsOf: bytes)
                return size * count
            }, context)
        ccurl_set_header_receiver(
            curl,
            { data, size, count, context in
                let exchange = Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue()
                let line = String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self)
                let lowered = line.lowercased()
                if lowered.hasPrefix("content-type:") {
                    exchange.contentType = String(line.dropFirst(13)).trimmed(" \r\n")
                } else if lowered.hasPrefix("content-length:"), exchange.sink == nil,
                    let length = Int(String(line.dropFirst(15)).trimmed(" \r\n")), length > 0
                {
                    // The body lands in one buffer instead of growing by doubling (a 10,000-section
                    // listing is 4.4 MB); no more than a listing's worth on a length's word alone.
                    exchange.body.reserveCapacity(min(length, HTTPClient.reservedAtMost))
                }
                return size * count
            }, context)
        ccurl_set_progress(
            curl,
            { context, _, _, _, _ in
                Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue().keepGoing() ? 0 : 1
            }, context)
        let result: CURLcode =
            if let body {
                body.withUnsafeBytes { buffer in
                    ccurl_set_body(curl, buffer.baseAddress, curl_off_t(buffer.count))
                    return ccurl_easy_perform(curl)
                }
            } else {
                ccurl_easy_perform(curl)
            }
        let status = ccurl_response_code(curl)
        // A sink or keepGoing that said stop ends the transfer on purpose: not a failure.
        if result != CURLE_OK && !(result == CURLE_WRITE_ERROR || result == CURLE_ABORTED_BY_CALLBACK) {
            throw TransferError(message: String(cString: ccurl_easy_strerror(result)))
        }
        return Response(status: status, contentType: exchange.contentType, body: exchange.body)
    }
}

extension String {
    fileprivate func trimmed(_ set: String) -> String {
        let drop = Set(set.unicodeScalars)
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, drop.contains(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, drop.contains(last) { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
