import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The kernel calls the registry and the host scan make, by name: what an error's cause names, a
/// trace records and a test fault targets.
@usableFromInline package enum SystemCall: String, Sendable, Hashable, CaseIterable {
    case open, openat, stat, fstat, fstatat, fstatvfs, fstatfs, read, pread, pwrite, write
    case unlink, unlinkat, rename, renameat2, mkdir, fchmod, fsync, opendir
    case fallocate, punchHole = "fallocate(PUNCH_HOLE)"
    case seekData = "lseek(SEEK_DATA)", seekHole = "lseek(SEEK_HOLE)"
    case mmap, mremap, processVMRead = "process_vm_readv", processVMWrite = "process_vm_writev"
    case lock = "fcntl(F_OFD_SETLK)", probeLock = "fcntl(F_OFD_GETLK)", lease = "fcntl(F_SETLEASE)"
    case duplicate = "fcntl(F_DUPFD_CLOEXEC)"
    case inotifyAddWatch = "inotify_add_watch", pipe, kill
    case readlink, statvfs, setns, shmctlRemove = "shmctl(IPC_RMID)", shmat, shmdt
    case realpath
}

/// A system call that failed: which one, and the errno it set.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call's name as in its man page, e.g. `fallocate` or `lseek(SEEK_DATA)`.
    public let call: String
    public let errno: Errno

    @usableFromInline package init(_ call: SystemCall, _ errno: Errno) {
        self.call = call.rawValue
        self.errno = errno
    }

    public var description: String { "\(call): \(errno.description)" }
}

/// Runs one system call: `body` returns the kernel's result, -1 (or `failure`) with errno set when
/// it failed. EINTR is retried here, in one place, unless the caller says otherwise. Every call
/// passes the test seam (`SystemCallSeam`) first, which may record it or fail it with an errno.
@inlinable
@discardableResult
package func syscall<T: Equatable>(
    _ call: SystemCall, retryOnInterrupt: Bool = true, failure: T, _ body: () -> T
) throws(SystemCallError) -> T {
    while true {
        let result: T
        let code: Errno
        if SystemCallSeam.isActive, let fault = SystemCallSeam.intercept(call) {
            result = failure
            code = fault
        } else {
            result = body()
            if result != failure { return result }
            code = Errno(rawValue: Glibc.errno)
        }
        if code == .interrupted && retryOnInterrupt { continue }
        throw SystemCallError(call, code)
    }
}

/// `syscall` for the calls that return -1 on failure.
@inlinable
@discardableResult
package func syscall<T: FixedWidthInteger>(
    _ call: SystemCall, retryOnInterrupt: Bool = true, _ body: () -> T
) throws(SystemCallError) -> T {
    try syscall(call, retryOnInterrupt: retryOnInterrupt, failure: -1, body)
}

/// The test seam of every system call: a test runs code under a `Script` that records each call
/// and fails chosen ones with chosen errnos, without the kernel being asked. Scripts are scoped to
/// the task that runs them, so tests running in parallel do not see each other's faults; with no
/// script running anywhere the cost per call is one relaxed atomic load.
@usableFromInline package enum SystemCallSeam {
    private static let scriptsRunning = Atomic<Int>(0)
    @TaskLocal private static var script: Script?

    package final class Script: Sendable {
        private let state = Mutex<(faults: [SystemCall: [Errno]], trace: [SystemCall])>(([:], []))

        package init() {}

        /// Fails the next calls of `call`, one errno each, in order.
        package func fail(_ call: SystemCall, with errnos: Errno...) {
            state.withLock { $0.faults[call, default: []] += errnos }
        }

        /// Every call made under this script so far (faulted ones included), in order.
        package var trace: [SystemCall] { state.withLock { $0.trace } }

        /// Faults not used yet.
        package var pendingFaults: [SystemCall: [Errno]] { state.withLock { $0.faults.filter { !$0.value.isEmpty } } }

        fileprivate func next(_ call: SystemCall) -> Errno? {
            state.withLock { state in
                state.trace.append(call)
                guard var queue = state.faults[call], !queue.isEmpty else { return nil }
                let errno = queue.removeFirst()
                state.faults[call] = queue
                return errno
            }
        }
    }

    /// Runs `body` with every system call it makes on this task going through `script`.
    package static func run<T, E: Error>(_ script: Script, _ body: () throws(E) -> T) throws(E) -> T {
        scriptsRunning.add(1, ordering: .relaxed)
        defer { scriptsRunning.subtract(1, ordering: .relaxed) }
        let outcome: Result<T, E> = $script.withValue(script) {
            do throws(E) { return .success(try body()) } catch { return .failure(error) }
        }
        return try outcome.get()
    }

    @usableFromInline package static var isActive: Bool { scriptsRunning.load(ordering: .relaxed) > 0 }

    @usableFromInline package static func intercept(_ call: SystemCall) -> Errno? { script?.next(call) }
}
