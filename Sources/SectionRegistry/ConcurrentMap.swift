import CShmLinux
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension Array where Element: Sendable {
    /// `map`, with the elements split over the CPUs this process may run on (at most 4) when there are at least
    /// `minimumCount` of them: for listings of thousands of sections, where each element costs a
    /// system call or a few hundred bytes of JSON. Order is kept; `transform` runs concurrently.
    package func concurrentMap<T: Sendable>(minimumCount: Int = 2_048, _ transform: @Sendable (Element) -> T) -> [T] {
        let parts = count < minimumCount ? 1 : Swift.max(1, Swift.min(4, Int(cshm_usable_cpus())))
        if parts == 1 { return map(transform) }
        let elements = self
        let results = Mutex<[[T]]>(Array<[T]>(repeating: [], count: parts))
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let slice = elements[(elements.count * part / parts)..<(elements.count * (part + 1) / parts)]
            let mapped = slice.map(transform)
            results.withLock { $0[part] = mapped }
        }
        return results.withLock { parts in parts.flatMap { $0 } }
    }
}
