import Dispatch
import Synchronization

/// Runs a costly read (a pass over /proc) on behalf of many callers at once, without ever handing
/// a caller a result older than its call: each caller gets the result of a pass that *started
/// after* it called.
///
/// A caller who finds no pass running starts one on its own thread. Callers who arrive while a
/// pass runs cannot use it (it may have read a process before their call) and queue for the next
/// one; when the running pass ends, one of them runs the next pass for all of them. So however
/// many callers come, at most one pass runs and one waits, and a caller waits at most for the end
/// of the running pass plus one whole pass of its own.
final class SharedPass<Value: Sendable>: Sendable {
    /// One pass: its waiters block on `finished` until `value` is set.
    private final class Pass: Sendable {
        let finished = DispatchGroup()
        let value = Mutex<Value?>(nil)

        init() { finished.enter() }
    }

    private struct State {
        /// The pass in progress, if any.
        var running: Pass?
        /// The pass the callers that arrived during `running` wait for; it starts when `running` ends.
        var queued: Pass?
    }

    private let state = Mutex(State())
    private let passes = Atomic<Int>(0)

    /// Passes run so far (tests).
    var passesRun: Int { passes.load(ordering: .relaxed) }

    private enum Role {
        /// Run this pass on the caller's thread.
        case run(Pass)
        /// Wait for `behind` to end, then run this pass or wait for whoever does.
        case wait(Pass, behind: Pass)
    }

    /// The result of a run of `work` that started after this call. Every caller passes the same work.
    func value(_ work: () -> Value) -> Value {
        let role = state.withLock { state -> Role in
            guard let running = state.running else {
                // Nothing runs: start now. Callers queued behind a pass that just ended come along,
                // since this pass starts after all of them called.
                let pass = state.queued ?? Pass()
                state.queued = nil
                state.running = pass
                return .run(pass)
            }
            let next = state.queued ?? Pass()
            state.queued = next
            return .wait(next, behind: running)
        }
        switch role {
        case .run(let pass):
            return run(pass, work)
        case .wait(let pass, let running):
            running.finished.wait()
            let mine = state.withLock { state -> Bool in
                guard state.running == nil, state.queued === pass else { return false }
                state.queued = nil
                state.running = pass
                return true
            }
            if mine { return run(pass, work) }
            pass.finished.wait()
            return pass.value.withLock { $0! }
        }
    }

    private func run(_ pass: Pass, _ work: () -> Value) -> Value {
        let value = work()
        passes.add(1, ordering: .relaxed)
        pass.value.withLock { $0 = value }
        state.withLock { $0.running = nil }
        pass.finished.leave()
        return value
    }
}
