import JSON

/// Immutable bytes in memory of their own, shared by reference.
///
/// A response body of `SharedBytes` is handed to libmicrohttpd without a copy: the response keeps the
/// object alive until the library is done with it. For bodies built once and sent many times (a cached
/// listing polled by monitoring), where copying each time into the library cost as much as the rest of
/// the answer.
public final class SharedBytes: @unchecked Sendable {
    // @unchecked: the memory is written once, in init, and only read afterwards.
    let storage: UnsafeMutableRawBufferPointer

    public init(_ bytes: [UInt8]) {
        storage = .allocate(byteCount: bytes.count, alignment: 16)
        bytes.withUnsafeBytes { storage.copyMemory(from: $0) }
    }

    /// Takes over `storage` (allocated with Swift's allocator), freed when the bytes are released.
    init(adopting storage: UnsafeMutableRawBufferPointer) {
        self.storage = storage
    }

    deinit { storage.deallocate() }

    public var count: Int { storage.count }

    /// A copy of the bytes, mostly for tests.
    public var array: [UInt8] { Array(storage) }
}

extension JSONWriter {
    /// The text as `SharedBytes`, which takes the writer's memory over: no copy.
    public consuming func finishShared() -> SharedBytes {
        SharedBytes(adopting: finishBuffer())
    }
}
