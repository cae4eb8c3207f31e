import CHttpd

#if canImport(Glibc)
    import Glibc
#endif

extension HTTPServer {
    /// The access handler's work, following the body protocol of libmicrohttpd: the first call only sees
    /// the headers (answering then would cost keep-alive), middle calls deliver body chunks, and the final
    /// call (no data) answers.
    ///
    /// `url` is nil when the decoded path is not valid UTF-8.
    func handle(
        connection: OpaquePointer, context: RequestContext, url: String?, method: String,
        upload: UnsafePointer<CChar>?, uploadSize: UnsafeMutablePointer<Int>?
    ) -> MHD_Result {
        let limit = configuration.maxBodyBytes
        if !context.headersSeen {
            context.headersSeen = true
            context.method = method
            context.path = url ?? ""
            context.pathIsValid = url != nil
            (context.remoteAddress, context.isLoopback) = Self.remoteAddress(of: connection)
            context.headers = HTTPHeaders(fields: Self.headerFields(of: connection))
            if let ambiguity = Self.ambiguousFraming(context.headers) {
                // RFC 9112 6.3: unrecoverable framing, answered 400 before any body is read (the connection
                // then closes). libmicrohttpd would take the first Content-Length, or chunked over it, and
                // what a proxy in front made of the rest could pass as another request (smuggling).
                return queue(.problem(.badRequest(ambiguity)), on: connection, context: context)
            }
            // The first Content-Length, as libmicrohttpd's own lookup would find it (case-insensitive).
            let declared = context.headers["Content-Length"].flatMap { Int($0) }
            if let declared, declared > limit {
                // Answer before the body is read (no `100 Continue`); libmicrohttpd then closes the connection.
                return queue(.problem(.payloadTooLarge(limit: limit)), on: connection, context: context)
            }
            // Reserve for the declared body, but not more than 1 MiB before any of it has arrived.
            if let declared, declared > 0 { context.body.reserveCapacity(min(declared, 1 << 20)) }
            return .YES
        }
        if let uploadSize, uploadSize.pointee > 0 {
            let size = uploadSize.pointee
            uploadSize.pointee = 0
            if context.bodyTooLarge {
                // libmicrohttpd 0.9.75 refuses a response queued in the middle of a body, so an oversize
                // body without Content-Length (chunked) is read and discarded, and 413 sent at its end.
                // A body that keeps coming past the allowance is cut off by closing the connection.
                context.discardedBytes += size
                return context.discardedBytes > Self.discardAllowance(limit) ? .NO : .YES
            }
            guard context.body.count + size <= limit else {
                context.bodyTooLarge = true
                context.discardedBytes = context.body.count + size
                context.body = []
                return .YES
            }
            if let upload {
                context.body.append(contentsOf: UnsafeRawBufferPointer(start: upload, count: size))
            }
            return .YES
        }
        if let pending = context.deferred {  // called again after the resume
            context.deferred = nil
            guard let response = pending.takeResponse() else { return .NO }  // abandoned: close
            return queue(response, on: connection, context: context)
        }
        if context.status != 0 { return .YES }
        if context.bodyTooLarge {
            return queue(.problem(.payloadTooLarge(limit: limit)), on: connection, context: context)
        }
        if context.rawPathHasEncodedNUL || !context.pathIsValid {
            // libmicrohttpd hands the path over as a C string: a decoded NUL would silently cut it short
            // (`/sections/a%00b` would name `a`); and a path that is not UTF-8 cannot be a String faithfully.
            let problem = ProblemDetails.badRequest("the path contains an encoded NUL or is not valid UTF-8")
            return queue(.problem(problem), on: connection, context: context)
        }
        let request = makeRequest(connection: connection, context: context)
        context.body = []
        context.headers = HTTPHeaders()
        return queue(handler(request), on: connection, context: context)
    }

    /// Why the body's length is ambiguous (Content-Length more than once, or with Transfer-Encoding), or nil.
    static func ambiguousFraming(_ headers: HTTPHeaders) -> String? {
        let lengths = headers.count(of: "Content-Length")
        if lengths > 1 { return "the request has \(lengths) Content-Length headers; one is allowed" }
        if lengths == 1 && headers.contains("Transfer-Encoding") {
            return "the request has both Content-Length and Transfer-Encoding"
        }
        return nil
    }

    /// How many bytes of an oversize chunked body are read and discarded before the connection is closed.
    static func discardAllowance(_ limit: Int) -> Int {
        max(2 * limit, 1 << 20)
    }

    private func makeRequest(connection: OpaquePointer, context: RequestContext) -> HTTPRequest {
        HTTPRequest(
            method: context.method,
            path: context.path,
            rawURL: context.rawURL,
            query: QueryParameters(items: Self.queryItems(of: connection)),
            headers: context.headers,
            body: context.body,
            remoteAddress: context.remoteAddress,
            isLoopback: context.isLoopback,
            isTLS: configuration.tls != nil)
    }

    /// The request's header fields, straight into the array `HTTPHeaders` keeps (this runs for every
    /// request: no intermediate array of pairs).
    private static func headerFields(of connection: OpaquePointer) -> [HTTPHeaders.Field] {
        var fields: [HTTPHeaders.Field] = []
        fields.reserveCapacity(8)
        withUnsafeMutablePointer(to: &fields) { pointer in
            _ = MHD_get_connection_values_n(
                connection, .HEADER_KIND, collectHeaderFieldsCallback, UnsafeMutableRawPointer(pointer))
        }
        return fields
    }

    private static func queryItems(of connection: OpaquePointer) -> [QueryParameters.Item] {
        var items: [QueryParameters.Item] = []
        withUnsafeMutablePointer(to: &items) { pointer in
            _ = MHD_get_connection_values_n(
                connection, .GET_ARGUMENT_KIND, collectQueryItemsCallback, UnsafeMutableRawPointer(pointer))
        }
        return items
    }

    /// Sends `response` on `connection` and records what the completion report needs.
    func queue(
        _ response: HTTPResponse, on connection: OpaquePointer, context: RequestContext, isFallback: Bool = false
    ) -> MHD_Result {
        if let work = response.deferredWork {
            return suspend(work, route: response.routePattern, connection: connection, context: context)
        }
        var response = response
        if !(100...999).contains(response.status) {
            logger.error("handler returned an invalid status", metadata: ["status": "\(response.status)"])
            response = .problem(.internalError("the handler returned an invalid status"))
        }
        guard let mhdResponse = makeDaemonResponse(response, connection: connection, context: context) else {
            logger.error(
                "cannot create the response", metadata: ["path": "\(context.path)", "status": "\(response.status)"])
            if isFallback { return .NO }  // not even the 500 could be made: close the connection
            let fallback = HTTPResponse.problem(.internalError("the response could not be created"))
            return queue(fallback, on: connection, context: context, isFallback: true)
        }
        defer { MHD_destroy_response(mhdResponse) }
        for field in response.headers where !Self.isManagedHeader(field.name) {
            // withCString hands over a native String's own storage; the implicit conversion copied it.
            let added = field.name.withCString { name in
                field.value.withCString { value in MHD_add_response_header(mhdResponse, name, value) }
            }
            if added != .YES {
                logger.warning("header refused", metadata: ["header": "\(field.name)", "path": "\(context.path)"])
            }
        }
        context.status = response.status
        context.route = response.routePattern
        let isHead = context.method == "HEAD"
        context.bodyBytes = isHead ? 0 : (response.bodyLength ?? 0)
        let result = MHD_queue_response(connection, UInt32(clamping: response.status), mhdResponse)
        if result != .YES { context.status = 0 }
        return result
    }

    /// Headers libmicrohttpd computes itself (and refuses or duplicates when given).
    /// (`Connection: close` is let through: libmicrohttpd then closes the connection after the response.)
    static func isManagedHeader(_ name: String) -> Bool {
        HTTPHeaders.sameName(name, "Content-Length") || HTTPHeaders.sameName(name, "Transfer-Encoding")
            || HTTPHeaders.sameName(name, "Date")
    }

    /// The most a streamed body writes per call: as large as a raw dump's blocks, so a long body goes out
    /// in few system calls.
    static let streamBlockSize: UInt64 = 256 * 1024

    private func makeDaemonResponse(
        _ response: HTTPResponse, connection: OpaquePointer, context: RequestContext
    ) -> OpaquePointer? {
        switch response.body {
        case .empty:
            return MHD_create_response_from_buffer(0, nil, .RESPMEM_PERSISTENT)
        case .bytes(let bytes):
            return bytes.withUnsafeBytes { raw in
                MHD_create_response_from_buffer(
                    raw.count, UnsafeMutableRawPointer(mutating: raw.baseAddress), .RESPMEM_MUST_COPY)
            }
        case .shared(let bytes):
            let retained = Unmanaged.passRetained(bytes).toOpaque()
            let created = MHD_create_response_from_buffer_with_free_callback_cls(
                bytes.count, bytes.storage.baseAddress, sharedBytesReleaseCallback, retained)
            if created == nil { Unmanaged<SharedBytes>.fromOpaque(retained).release() }
            return created
        case .file(let region):
            if region.length >= Self.mappedResponseThreshold, region.isFullyAllocated,
                let mapped = chttpd_response_from_mapping(region.descriptor, region.offset, region.length)
            {
                return mapped
            }
            // The response owns (and closes) the descriptor it is given, so it gets a copy. It reads
            // with pread rather than sendfile: a file truncated mid-stream must end the response.
            let copy = dup(region.descriptor)
            guard copy >= 0 else { return nil }
            guard let created = chttpd_response_from_fd(copy, region.offset, region.length) else {
                close(copy)
                return nil
            }
            return created
        case .stream(let body):
            let sending = Unmanaged.passRetained(StreamedBodySending(body.makeWriter())).toOpaque()
            // A block no larger than the body: libmicrohttpd allocates it with the response.
            let block = max(1, min(body.length ?? Self.streamBlockSize, Self.streamBlockSize))
            guard
                let created = MHD_create_response_from_callback(
                    body.length ?? chttpd_size_unknown(), Int(block), streamedBodyReaderCallback, sending,
                    streamedBodyFreeCallback)
            else {
                Unmanaged<StreamedBodySending>.fromOpaque(sending).release()
                return nil
            }
            return created
        case .eventStream(let broadcaster):
            return makeEventStreamResponse(broadcaster, connection: connection, context: context)
        }
    }

    /// File regions from this size on are sent from a mapping (one copy, by the kernel, into the
    /// socket) instead of through pread into a buffer (two copies), unless the file has holes (see
    /// `FileRegion.isFullyAllocated`). Smaller ones are not worth the mmap and munmap.
    static let mappedResponseThreshold: UInt64 = 1 << 20

    /// The client's address as text and whether it is on this host.
    static func remoteAddress(of connection: OpaquePointer) -> (address: String, isLoopback: Bool) {
        guard let address = chttpd_connection_client_address(connection) else { return ("unknown", false) }
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                let host = UInt32(bigEndian: v4.pointee.sin_addr.s_addr)
                return (dottedQuad(host), host >> 24 == 127)
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                let text = format(AF_INET6, v6.pointee.sin6_addr)
                let bytes = withUnsafeBytes(of: v6.pointee.sin6_addr) { Array($0) }
                let isV6Loopback = bytes == [UInt8](repeating: 0, count: 15) + [1]
                let isMappedV4Loopback =
                    bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
                return (text, isV6Loopback || isMappedV4Loopback)
            }
        case AF_UNIX:
            return ("unix", true)
        default:
            return ("unknown", false)
        }
    }

    /// `127.0.0.1` for 0x7F000001, without inet_ntop's buffer (this runs for every request).
    static func dottedQuad(_ host: UInt32) -> String {
        // Written into the string's own storage: four `String(Int)`s and their concatenations cost
        // about 1,900 instructions a request.
        String(unsafeUninitializedCapacity: 15) { buffer in
            var at = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                let octet = Int((host >> UInt32(shift)) & 0xFF)
                if octet >= 100 {
                    buffer[at] = UInt8(ascii: "0") + UInt8(octet / 100)
                    at += 1
                }
                if octet >= 10 {
                    buffer[at] = UInt8(ascii: "0") + UInt8(octet / 10 % 10)
                    at += 1
                }
                buffer[at] = UInt8(ascii: "0") + UInt8(octet % 10)
                at += 1
                if shift > 0 {
                    buffer[at] = UInt8(ascii: ".")
                    at += 1
                }
            }
            return at
        }
    }

    private static func format<Address>(_ family: Int32, _ address: Address) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let converted = withUnsafeBytes(of: address) { raw in
            buffer.withUnsafeMutableBufferPointer {
                inet_ntop(family, raw.baseAddress, $0.baseAddress, socklen_t($0.count))
            }
        }
        guard converted != nil else { return "unknown" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
