import Dispatch
import Glibc
import SystemSeam
import Testing

@Suite("InBackground")
struct InBackgroundTests {
    @Test("the work runs while the caller goes on, and its value is what value() returns")
    func runsBesideTheCaller() {
        // The work waits for a signal that the caller gives only after the constructor returned:
        // made on the caller's thread, it would wait out its bound and answer false.
        let signal = DispatchSemaphore(value: 0)
        let read = InBackground { signal.wait(timeout: .now() + 5) == .success }
        signal.signal()
        #expect(read.value())
        #expect(read.value(), "asked again, the same value")
    }

    @Test("the work runs while every worker of the global queues waits")
    func runsWhileTheGlobalWorkersWait() {
        // As many waiting jobs as the machine has CPUs, and more: work queued behind them on the
        // global queues would wait until they end (ten seconds here).
        let release = DispatchSemaphore(value: 0)
        let blockers = DispatchGroup()
        let count = 4 * max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        for _ in 0..<count {
            DispatchQueue.global().async(group: blockers) { _ = release.wait(timeout: .now() + 10) }
        }
        defer {
            for _ in 0..<count { release.signal() }
            _ = blockers.wait(timeout: .now() + 15)
        }
        let ran = DispatchSemaphore(value: 0)
        let read = InBackground {
            ran.signal()
            return 42
        }
        #expect(ran.wait(timeout: .now() + 3) == .success, "the work ran while the global workers waited")
        #expect(read.value() == 42)
    }

    @Test("an optional value that is nil comes back nil")
    func nilValue() {
        let read = InBackground<[UInt8]?> { nil }
        #expect(read.value() == nil)
    }
}
