import Dispatch
import Synchronization

/// A value made on another thread while the caller goes on with work of its own, waited for when
/// needed: a pass's /proc/locks (`HostPass.run`), the pass a section listing needs.
///
/// The work runs on a queue of its own, which libdispatch serves from its overcommitting pool (a
/// thread is made when none is idle): the global queues' workers, as many as the CPUs, may all be
/// waiting, and work queued behind them would wait too.
package final class InBackground<Value: Sendable>: Sendable {
    private let done = DispatchGroup()
    private let result = Mutex<Value?>(nil)

    package init(_ work: @escaping @Sendable () -> Value) {
        done.enter()
        DispatchQueue(label: "shm-admin.in-background").async { [self] in
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
