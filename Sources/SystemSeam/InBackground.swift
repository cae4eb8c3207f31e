import Dispatch
import Synchronization

/// A value made on a dispatch worker while the caller goes on with work of its own, waited for
/// when needed: for a read that mostly waits (a pass's /proc/locks: `HostPass.run`).
package final class InBackground<Value: Sendable>: Sendable {
    private let done = DispatchGroup()
    private let result = Mutex<Value?>(nil)

    package init(_ work: @escaping @Sendable () -> Value) {
        done.enter()
        DispatchQueue.global().async { [self] in
            let value = work()
            result.withLock { $0 = value }
            done.leave()
        }
    }

    /// The value, once `work` has returned it.
    package func value() -> Value {
        done.wait()
        return result.withLock { $0! }
    }
}
