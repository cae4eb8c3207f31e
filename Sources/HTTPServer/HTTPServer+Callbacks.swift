import CHttpd

// The C callbacks: file-level, non-capturing constants that recover the server (or subscriber) from
// their `cls` argument with `Unmanaged` and forward to Swift methods. Nothing may throw into C.

/// Allocates the per-request context; its return value becomes the request's `*req_cls`.
let uriLogCallback:
    @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, OpaquePointer?) ->
        UnsafeMutableRawPointer? = { cls, uri, _ in
            guard let cls else { return nil }
            let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()
            let context = RequestContext(rawURL: uri.map { String(cString: $0) })
            server.requestStarted()
            return Unmanaged.passRetained(context).toOpaque()
        }

let accessHandlerCallback: MHD_AccessHandlerCallback = {
    cls, connection, url, method, _, uploadData, uploadDataSize, requestContext in
    guard let cls, let connection, let requestContext, let pointer = requestContext.pointee else { return .NO }
    let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()
    let context = Unmanaged<RequestContext>.fromOpaque(pointer).takeUnretainedValue()
    return server.handle(
        connection: connection, context: context,
        url: url.map { String(validatingCString: $0) } ?? "/",
        method: method.map { String(cString: $0) } ?? "GET",
        upload: uploadData, uploadSize: uploadDataSize)
}

let completedCallback: MHD_RequestCompletedCallback = { cls, _, requestContext, termination in
    guard let cls, let requestContext, let pointer = requestContext.pointee else { return }
    requestContext.pointee = nil
    let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()
    let context = Unmanaged<RequestContext>.fromOpaque(pointer).takeRetainedValue()
    server.requestCompleted(context, completedOK: termination == .REQUEST_TERMINATED_COMPLETED_OK)
}

/// Collects header fields into the `[HTTPHeaders.Field]` that `cls` points to. The sized variant keeps
/// a decoded `%00` inside a value instead of cutting the value short there.
let collectHeaderFieldsCallback: MHD_KeyValueIteratorN = { cls, _, key, keySize, value, valueSize in
    guard let cls, let key else { return .YES }
    let fields = cls.assumingMemoryBound(to: [HTTPHeaders.Field].self)
    let (name, text) = decodedPair(key, keySize, value, valueSize)
    fields.pointee.append(HTTPHeaders.Field(name: name, value: text))
    return .YES
}

/// Collects query parameters into the `[QueryParameters.Item]` that `cls` points to (sized, as above).
let collectQueryItemsCallback: MHD_KeyValueIteratorN = { cls, _, key, keySize, value, valueSize in
    guard let cls, let key else { return .YES }
    let items = cls.assumingMemoryBound(to: [QueryParameters.Item].self)
    let (name, text) = decodedPair(key, keySize, value, valueSize)
    items.pointee.append(QueryParameters.Item(key: name, value: text))
    return .YES
}

private func decodedPair(
    _ key: UnsafePointer<CChar>, _ keySize: Int, _ value: UnsafePointer<CChar>?, _ valueSize: Int
) -> (String, String) {
    let name = String(decoding: UnsafeRawBufferPointer(start: key, count: keySize), as: UTF8.self)
    let text = value.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: valueSize), as: UTF8.self) }
    return (name, text ?? "")
}

/// libmicrohttpd's own log messages (printf format plus va_list).
let daemonLogCallback: MHD_LogCallback = { cls, format, arguments in
    guard let cls, let format, let arguments else { return }
    let message = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 1024) { buffer in
        buffer[0] = 0
        _ = chttpd_format_message(buffer.baseAddress, buffer.count, format, arguments)
        return String(cString: buffer.baseAddress!).trimmingNewlines()
    }
    Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue().daemonLogged(message)
}

/// Releases the `SharedBytes` a response was made from, once libmicrohttpd is done with it.
let sharedBytesReleaseCallback: MHD_ContentReaderFreeCallback = { cls in
    guard let cls else { return }
    Unmanaged<SharedBytes>.fromOpaque(cls).release()
}

/// Fills an event stream's buffer from its subscriber.
let eventStreamReaderCallback: MHD_ContentReaderCallback = { cls, _, buffer, capacity in
    guard let cls, let buffer else { return MHD_CONTENT_READER_END_WITH_ERROR }
    let subscriber = Unmanaged<EventSubscriber>.fromOpaque(cls).takeUnretainedValue()
    return subscriber.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: capacity))
}

/// Releases the subscriber the event-stream response retained.
let eventStreamFreeCallback: MHD_ContentReaderFreeCallback = { cls in
    guard let cls else { return }
    let subscriber = Unmanaged<EventSubscriber>.fromOpaque(cls).takeRetainedValue()
    subscriber.connectionClosed()
}

/// Fills a streamed body's buffer from its writer. libmicrohttpd asks for consecutive positions; anything
/// else (or a writer that fails or claims more than the buffer) ends the response with an error, which
/// closes the connection.
let streamedBodyReaderCallback: MHD_ContentReaderCallback = { cls, position, buffer, capacity in
    guard let cls, let buffer, capacity > 0 else { return MHD_CONTENT_READER_END_WITH_ERROR }
    let sending = Unmanaged<StreamedBodySending>.fromOpaque(cls).takeUnretainedValue()
    guard position == sending.position,
        let written = sending.writer.write(into: UnsafeMutableRawBufferPointer(start: buffer, count: capacity)),
        written <= capacity
    else { return MHD_CONTENT_READER_END_WITH_ERROR }
    if written == 0 { return MHD_CONTENT_READER_END_OF_STREAM }
    sending.position += UInt64(written)
    return written
}

/// Releases the sending a streamed-body response retained (and with it the writer).
let streamedBodyFreeCallback: MHD_ContentReaderFreeCallback = { cls in
    guard let cls else { return }
    Unmanaged<StreamedBodySending>.fromOpaque(cls).release()
}

extension String {
    fileprivate func trimmingNewlines() -> String {
        var text = Substring(self)
        while text.last == "\n" || text.last == "\r" { text = text.dropLast() }
        return String(text)
    }
}
