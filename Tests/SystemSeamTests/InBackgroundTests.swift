import Dispatch
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

    @Test("an optional value that is nil comes back nil")
    func nilValue() {
        let read = InBackground<[UInt8]?> { nil }
        #expect(read.value() == nil)
    }
}
