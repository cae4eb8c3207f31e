import Foundation
import Testing

@testable import SectionRegistry

@Suite("Passes over /proc shared by concurrent callers")
struct SharedPassTests {
    /// A pass that blocks until the test opens its gate, and returns its number (1, 2, …) in
    /// the order passes started.
    final class GatedWork: Sendable {
        let started = Locked(0)
        let gate = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)

        func run() -> Int {
            let number = started.update { count -> Int in
                count += 1
                return count
            }
            if number == 1 {
                entered.signal()
                gate.wait()
            }
            return number
        }
    }

    @Test("a caller arriving during a pass never gets that pass: its result started after the call")
    func neverAnOlderPass() throws {
        let shared = SharedPass<Int>()
        let work = GatedWork()
        let first = Locked<Int?>(nil)
        let later = Locked<[Int]>([])
        let runningFirst = Thread { first.update { $0 = shared.value(work.run) } }
        runningFirst.start()
        #expect(work.entered.wait(timeout: .now() + 10) == .success, "the first pass started")
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<8 {
            Thread {
                let value = shared.value(work.run)
                later.update { $0.append(value) }
                done.signal()
            }.start()
        }
        Thread.sleep(forTimeInterval: 0.3)  // the eight are waiting behind the first pass
        #expect(later.value.isEmpty, "nobody is handed the pass that was running when they called")
        work.gate.signal()
        for _ in 0..<8 { #expect(done.wait(timeout: .now() + 10) == .success) }
        while first.value == nil { Thread.sleep(forTimeInterval: 0.01) }
        #expect(first.value == 1)
        #expect(later.value == [Int](repeating: 2, count: 8), "all eight share the one pass that started after them")
        #expect(shared.passesRun == 2, "two passes ran for nine callers")
    }

    @Test("callers one after another each get a pass of their own")
    func sequentialCallersEachRun() {
        let shared = SharedPass<Int>()
        let count = Locked(0)
        let values = (0..<5).map { _ in
            shared.value {
                count.update { value -> Int in
                    value += 1
                    return value
                }
            }
        }
        #expect(values == [1, 2, 3, 4, 5])
    }

    @Test("32 threads deleting at once while python maps one section: that one is refused, the rest go")
    func concurrentDeletesSeeAFreshMapping() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let names = try (0..<32).map { try box.sectionName("c\($0)") }
        for name in names { try registry.make(name, reserve: page) }
        let peer = try PythonPeer()
        defer { peer.stop() }
        // Mapped just before the deletes start: a snapshot taken earlier cannot know it.
        _ = try registry.list()
        try peer.run("attach \(names[7])")
        let refused = Locked<[String]>([])
        try onThreads(32) { index in
            do throws(SectionError) {
                try registry.delete(named: names[index])
            } catch {
                refused.update { $0.append("\(names[index].value) \(error.kind) \(error.pids)") }
            }
        }
        #expect(refused.value == ["\(names[7].value) mappedByOthers \([peer.pid])"])
        #expect(fileExists(box.path("c7")))
        for index in 0..<32 where index != 7 { #expect(!fileExists(box.path("c\(index)"))) }
        let passes = registry.scanner.freshMappers.passesRun
        print("32 concurrent deletes: \(passes) passes over /proc")
        #expect(passes >= 1 && passes < 32, "concurrent deletes share passes")
    }
}

@Suite struct ConcurrentMapTests {
    @Test(arguments: [0, 1, 2_047, 2_048, 10_001])
    func keepsOrderAndEveryElement(count: Int) {
        let input = (0..<count).map { $0 * 3 }
        #expect(input.concurrentMap { $0 + 1 } == input.map { $0 + 1 })
        #expect(input.concurrentMap(minimumCount: 1) { String($0) } == input.map { String($0) })
    }
}
