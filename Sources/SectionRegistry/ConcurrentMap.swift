import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// A value handed to concurrent work that only ever touches disjoint parts of it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    var value: Value

    init(_ value: Value) { self.value = value }
}

extension Array where Element: Sendable {
    /// `map`, with the elements split over the machine's cores (at most 4) when there are at least
    /// `minimumCount` of them: for listings of thousands of sections, where each element costs a
    /// system call or a few hundred bytes of JSON. Order is kept; `transform` runs concurrently.
    public func concurrentMap<T>(minimumCount: Int = 2_048, _ transform: @Sendable (Element) -> T) -> [T] {
        let parts = count < minimumCount ? 1 : Swift.max(1, Swift.min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        if parts == 1 { return map(transform) }
        let elements = self
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let output = UncheckedSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                // Each part initializes its own slots only.
                for index in (count * part / parts)..<(count * (part + 1) / parts) {
                    (output.value.baseAddress! + index).initialize(to: transform(elements[index]))
                }
            }
            initialized = count
        }
    }
}
