import CShmLinux
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// The System V segments of IPC namespaces other than the server's. /proc/sysvipc/shm lists the
/// reading *thread's* namespace (LINUX-HOST-FACTS.md 4), so another namespace is read from a thread
/// made for it: it enters each namespace in turn (setns(CLONE_NEWIPC) affects that thread only),
/// reads the table, and ends. No worker or Dispatch thread ever changes namespace, so nothing else
/// can run in the wrong one.
enum IPCNamespaces {
    /// `namespaces`: each namespace's inode and a process in it, whose /proc/PID/ns/ipc is entered.
    /// A namespace that cannot be entered (the process exited, no CAP_SYS_ADMIN) is left out.
    static func segments(of namespaces: [(ipc: UInt64, pid: Int32)], procDirectory: String) -> [SysVSegment] {
        guard !namespaces.isEmpty else { return [] }
        let result = ResultBox()
        runOnOwnThread {
            for (ipc, pid) in namespaces {
                guard
                    let descriptor = try? syscall(
                        .open, { open(procDirectory + "/\(pid)/ns/ipc", O_RDONLY | O_CLOEXEC) })
                else { continue }
                defer { close(descriptor) }
                guard (try? syscall(.setns, { cshm_enter_ipc_namespace(descriptor) })) != nil else { continue }
                // Still the namespace of `pid`? It may have exited and its pid been reused.
                guard namespaceInode(ProcFiles.linkTarget(procDirectory + "/thread-self/ns/ipc")) == ipc,
                    let text = ProcFiles.text(procDirectory + "/sysvipc/shm")
                else { continue }
                result.segments += SysVTable.parse(text, ipc: ipc)
            }
        }
        return result.segments
    }

    /// Runs `work` on a thread made for it, inside IPC namespace `ipc` (entered through
    /// /proc/PID/ns/ipc of `pid`); nil when the namespace could not be entered.
    static func inside<T>(ipc: UInt64, pid: Int32, procDirectory: String, _ work: @escaping () -> T) -> T? {
        let result = ValueBox<T>()
        runOnOwnThread {
            guard let descriptor = try? syscall(.open, { open(procDirectory + "/\(pid)/ns/ipc", O_RDONLY | O_CLOEXEC) })
            else { return }
            defer { close(descriptor) }
            guard (try? syscall(.setns, { cshm_enter_ipc_namespace(descriptor) })) != nil,
                namespaceInode(ProcFiles.linkTarget(procDirectory + "/thread-self/ns/ipc")) == ipc
            else { return }
            result.value = work()
        }
        return result.value
    }

    /// Written by the IPC thread only, read after it was joined.
    private final class ResultBox: @unchecked Sendable {
        var segments: [SysVSegment] = []
    }

    private final class ValueBox<T>: @unchecked Sendable {
        var value: T?
    }

    private final class Job: @unchecked Sendable {
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }
    }

    /// Runs `work` on a new thread and waits for it: pthread_create(3), pthread_join(3). The thread
    /// ends with `work`, whatever namespace it was left in.
    private static func runOnOwnThread(_ work: @escaping () -> Void) {
        let job = Unmanaged.passRetained(Job(work)).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().work()
                return nil
            }, job)
        guard started == 0 else {
            Unmanaged<Job>.fromOpaque(job).release()
            return
        }
        pthread_join(thread, nil)
    }
}
