import Dispatch
import HostScan
import Synchronization
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// Reclaims orphans (API-HOST.md "Reclaim"): finds them on a fresh pass over /proc, and unless it
/// is a dry run moves each POSIX object into its mount's quarantine by this protocol —
///
/// 1. watch the object's inode for opens (inotify), then re-check the evidence on a pass that
///    starts after the watch: nobody holds, maps or locks it, idle for `olderThan`;
/// 2. write the record (`moving`, fsynced);
/// 3. rename(2) it into `.shm-admin-quarantine/ID` (RENAME_NOREPLACE) and check the inode moved;
/// 4. look at /proc once more (descriptors, maps, locks by device and inode) and at the watch: a
///    process that opened it by name in between gets it back under its name (`reopened`; if the
///    name was taken meanwhile it stays quarantined: `reopened-name-taken`);
/// 5. keep it (`quarantined`) or purge it (`delete`).
///
/// System V segments (only when `kinds` names `sysv`) are removed with IPC_RMID while `nattch` is
/// 0 at the re-check; they are never quarantined. Names and PIDs inside names are never evidence.
public struct Reclaimer: Sendable {
    public let quarantine: Quarantine
    /// `--grace`: the idle time when the request gives no `olderThan`.
    public let graceSeconds: Double

    public init(quarantine: Quarantine, graceSeconds: Double) {
        self.quarantine = quarantine
        self.graceSeconds = graceSeconds
    }

    private var scanner: HostScanner { quarantine.scanner }

    public func run(_ request: ReclaimRequest) -> ReclaimReport {
        quarantine.exclusively {
            let olderThan = request.olderThan ?? graceSeconds
            let first = scanner.freshSnapshot()
            var (candidates, skipped) = Self.candidates(in: first, request, olderThan: olderThan)
            guard !request.dryRun, !candidates.isEmpty else {
                return ReclaimReport(dryRun: request.dryRun, candidates: candidates, reclaimed: [], skipped: skipped)
            }
            var reclaimed: [ReclaimCandidate] = []
            let posix = candidates.filter { $0.kind == .shm }
            let sysv = candidates.filter { $0.kind == .sysv }
            if !posix.isEmpty { movePOSIX(posix, request, olderThan: olderThan, &reclaimed, &skipped) }
            if !sysv.isEmpty { removeSysV(sysv, olderThan: olderThan, &reclaimed, &skipped) }
            scanner.invalidate()
            candidates.sort { $0.href < $1.href }
            return ReclaimReport(dryRun: false, candidates: candidates, reclaimed: reclaimed, skipped: skipped)
        }
    }

    /// The orphans of `snapshot` the request covers, and those an `exclude` glob keeps.
    static func candidates(in snapshot: HostSnapshot, _ request: ReclaimRequest, olderThan: Double)
        -> ([ReclaimCandidate], [ReclaimSkip])
    {
        var candidates: [ReclaimCandidate] = []
        var skipped: [ReclaimSkip] = []
        let now = snapshot.wallTime
        if request.kinds.contains(.shm) {
            for mount in snapshot.mounts where request.mounts?.contains(mount.device) ?? true {
                for entry in mount.entries where isReclaimable(entry.name) {
                    let id = mount.objectID(entry)
                    let idle = now - max(entry.facts.modifiedAt, entry.facts.changedAt)
                    guard !snapshot.isInUse(id), idle >= olderThan else { continue }
                    let href = Hrefs.file(entry.name, of: mount)
                    if request.exclude.contains(where: { matches($0, entry.name) }) {
                        skipped.append(ReclaimSkip(href: href, reason: .excluded))
                        continue
                    }
                    candidates.append(
                        ReclaimCandidate(
                            kind: .shm, href: href, mount: mount.device, name: entry.name,
                            bytes: entry.facts.allocatedBytes, idleSeconds: max(0, idle), holders: 0, mappers: 0,
                            lockHolders: 0, nattch: nil, object: id))
                }
            }
        }
        if request.kinds.contains(.sysv) {
            for segment in snapshot.sysv where segment.nattch == 0 {
                let idle = Double(now) - Double(max(segment.changedAt, segment.detachedAt, segment.attachedAt))
                guard idle >= olderThan else { continue }
                let name = keyText(segment.key)
                if request.exclude.contains(where: { matches($0, name) }) {
                    skipped.append(ReclaimSkip(href: Hrefs.sysv(segment), reason: .excluded))
                    continue
                }
                candidates.append(
                    ReclaimCandidate(
                        kind: .sysv, href: Hrefs.sysv(segment), mount: nil, name: name,
                        bytes: segment.rssBytes + segment.swapBytes, idleSeconds: max(0, idle), holders: 0,
                        mappers: 0, lockHolders: 0, nattch: 0, segment: segment.id))
            }
        }
        return (candidates.sorted { $0.href < $1.href }, skipped.sorted { $0.href < $1.href })
    }

    /// Semaphores (`sem.*`) and the server's own temporaries (`.shm-admin-tmp-*`) are never reclaimed.
    static func isReclaimable(_ name: String) -> Bool {
        !name.hasPrefix("sem.") && !name.hasPrefix(".shm-admin-")
    }

    static func matches(_ glob: String, _ name: String) -> Bool { fnmatch(glob, name, 0) == 0 }

    static func keyText(_ key: Int32) -> String {
        let hex = String(UInt32(bitPattern: key), radix: 16)
        return "0x" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// One POSIX candidate on its way through the protocol.
    private struct Move {
        var candidate: ReclaimCandidate
        var directory: MountDirectory
        var watch: Int32
        var modifiedAt: Double = 0
        var record: QuarantineRecord? = nil
    }

    private func movePOSIX(
        _ candidates: [ReclaimCandidate], _ request: ReclaimRequest, olderThan: Double,
        _ reclaimed: inout [ReclaimCandidate], _ skipped: inout [ReclaimSkip]
    ) {
        guard let opens = OpenWatch() else {
            for candidate in candidates {
                skipped.append(ReclaimSkip(href: candidate.href, reason: .failed, detail: "inotify_init1 failed"))
            }
            return
        }
        let hook = quarantine.stepHook
        // 1. Watch each inode, then re-check everything on a pass that starts after the watches.
        let snapshot = scanner.snapshot()
        var directories: [DeviceID: MountDirectory] = [:]
        var moves: [Move] = []
        for candidate in candidates {
            guard let device = candidate.mount, let object = candidate.object else { continue }
            if directories[device] == nil, let mount = snapshot.mount(device) {
                directories[device] = MountDirectory(mount)
            }
            guard let directory = directories[device] else {
                skipped.append(ReclaimSkip(href: candidate.href, reason: .gone, detail: "its mount cannot be reached"))
                continue
            }
            guard let wd = opens.watch(directory.pathOf(candidate.name)),
                (try? directory.holds(candidate.name, inode: object.inode)) == true
            else {
                skipped.append(ReclaimSkip(href: candidate.href, reason: .gone))
                continue
            }
            moves.append(Move(candidate: candidate, directory: directory, watch: wd))
        }
        let recheck = scanner.freshSnapshot()
        var passed: [Move] = []
        for var move in moves {
            let candidate = move.candidate
            let object = candidate.object!
            guard let mount = recheck.mount(object.device),
                let entry = mount.entries.first(where: { $0.name == candidate.name }), entry.inode == object.inode
            else {
                skipped.append(ReclaimSkip(href: candidate.href, reason: .gone))
                continue
            }
            if recheck.isInUse(object) {
                skipped.append(ReclaimSkip(href: candidate.href, reason: .inUse))
                continue
            }
            if recheck.wallTime - max(entry.facts.modifiedAt, entry.facts.changedAt) < olderThan {
                skipped.append(ReclaimSkip(href: candidate.href, reason: .modified))
                continue
            }
            move.modifiedAt = entry.facts.modifiedAt
            passed.append(move)
        }
        // 2. Records of every move (each fsynced), made durable together by one fsync of their
        // directory before the first object moves.
        var recorded: [Move] = []
        let now = wallSeconds()
        for var move in passed {
            let candidate = move.candidate
            let object = candidate.object!
            do throws(SystemCallError) {
                _ = try move.directory.openQuarantine(create: true)
            } catch {
                skipped.append(ReclaimSkip(href: candidate.href, reason: .failed, detail: "\(error)"))
                continue
            }
            move.record = QuarantineRecord(
                id: Quarantine.newID(), name: candidate.name, mount: object.device, inode: object.inode, kind: "shm",
                bytes: candidate.bytes, quarantinedAt: now, purgeAt: now + quarantine.ttl, phase: .moving)
            recorded.append(move)
        }
        let failures = saveAll(recorded.map { $0.record! })
        recorded = recorded.filter { move in
            guard let failure = failures[move.record!.id] else { return true }
            skipped.append(ReclaimSkip(href: move.candidate.href, reason: .failed, detail: "\(failure)"))
            return false
        }
        // 3. Rename into the quarantine and check that the inode is the one moved.
        var moved: [Move] = []
        for var move in recorded {
            let candidate = move.candidate
            let object = candidate.object!
            let record = move.record!
            move.record = nil
            hook?("after-record", candidate.name)
            do throws(SystemCallError) {
                quarantine.notify(.renaming(mount: object.device, name: candidate.name))
                try move.directory.moveIn(candidate.name, as: record.id)
            } catch {
                try? quarantine.forget(record.id, syncingDirectory: false)
                let gone = error.errno.rawValue == ENOENT
                skipped.append(
                    ReclaimSkip(href: candidate.href, reason: gone ? .gone : .failed, detail: gone ? nil : "\(error)"))
                continue
            }
            move.record = record
            // The name may have been given to another object between the re-check and the rename:
            // then that one was moved, and goes straight back.
            let sameInode = (try? move.directory.holds(record.id, inode: object.inode, inQuarantine: true)) == true
            let sameWatch =
                opens.watch(move.directory.pathOf(record.id, inQuarantine: true), adding: true) == move.watch
            if !sameInode || !sameWatch {
                putBack(move, reason: .gone, &skipped)
                continue
            }
            hook?("after-move", candidate.name)
            moved.append(move)
        }
        guard !moved.isEmpty else { return }
        // 4. A fresh look at /proc, and at the watch: anyone who opened it by name gets it back.
        let after = scanner.freshSnapshot()
        opens.drain()
        var keep: [Move] = []
        for move in moved {
            let record = move.record!
            let info = try? move.directory.status(record.id, inQuarantine: true)
            let modified = info.map { Self.seconds($0.st_mtim) != move.modifiedAt } ?? true
            if after.isInUse(move.candidate.object!) || opens.wasOpened(move.watch) || modified {
                putBack(move, reason: .reopened, &skipped)
                continue
            }
            hook?("after-check", move.candidate.name)
            keep.append(move)
        }
        // 5. Keep or purge: the final records (written together), then the purges.
        let phase: QuarantineRecord.Phase = request.mode == .quarantine ? .quarantined : .purging
        let finalFailures = saveAll(
            keep.map { move in
                var done = move.record!
                done.phase = phase
                return done
            })
        for move in keep {
            let candidate = move.candidate
            var done = move.record!
            done.phase = phase
            if finalFailures[done.id] != nil {
                putBack(move, reason: .failed, &skipped)
                continue
            }
            if request.mode == .delete {
                do throws(SystemCallError) {
                    try move.directory.purge(done.id)
                } catch {
                    done.phase = .quarantined
                    try? quarantine.save(done)
                    skipped.append(
                        ReclaimSkip(
                            href: candidate.href, reason: .failed, detail: "\(error); it stays in quarantine",
                            quarantineID: done.id))
                    continue
                }
                try? quarantine.forget(done.id, syncingDirectory: false)
                quarantine.notify(
                    .purged(kind: "shm", name: candidate.name, mount: done.mount, bytes: done.bytes, id: nil))
                reclaimed.append(candidate)
            } else {
                quarantine.notify(.quarantined(done.item))
                var kept = candidate
                kept.quarantineID = done.id
                reclaimed.append(kept)
            }
            quarantine.countReclaimed(candidate.bytes)
        }
        // The records the purges removed (mode delete), durable together.
        if request.mode == .delete { try? quarantine.store.syncDirectory() }
    }

    /// Writes `records` (each fsynced, the file system's journal sharing the commits of those
    /// written at the same time: a few threads write them), then fsyncs their directory once.
    /// Returns the failures by record id; when the directory cannot be synced, all of them failed
    /// (and their records are removed again).
    private func saveAll(_ records: [QuarantineRecord]) -> [String: QuarantineError] {
        guard !records.isEmpty else { return [:] }
        let failures = Mutex<[String: QuarantineError]>([:])
        let workers = min(8, records.count)
        let quarantine = self.quarantine
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: records.count, by: workers) {
                do throws(QuarantineError) {
                    try quarantine.save(records[index], syncingDirectory: false)
                } catch {
                    failures.withLock { $0[records[index].id] = error }
                }
            }
        }
        var failed = failures.withLock { $0 }
        do throws(SystemCallError) {
            try quarantine.store.syncDirectory()
        } catch {
            for record in records where failed[record.id] == nil {
                try? quarantine.forget(record.id, syncingDirectory: false)
                failed[record.id] = .failed("cannot sync the quarantine records' directory: \(error)")
            }
        }
        return failed
    }

    /// Renames a moved object back under its name (RENAME_NOREPLACE). When the name was taken
    /// meanwhile it stays quarantined, and the skip says so.
    private func putBack(_ move: Move, reason: SkipReason, _ skipped: inout [ReclaimSkip]) {
        guard var record = move.record else { return }
        record.phase = .restoring
        try? quarantine.save(record)
        do throws(SystemCallError) {
            quarantine.notify(.renaming(mount: record.mount, name: record.name))
            try move.directory.moveOut(record.id, as: record.name)
            try? quarantine.forget(record.id)
            skipped.append(ReclaimSkip(href: move.candidate.href, reason: reason))
        } catch {
            record.phase = .quarantined
            try? quarantine.save(record)
            let taken = error.errno.rawValue == EEXIST
            if taken { quarantine.notify(.quarantined(record.item)) }
            skipped.append(
                ReclaimSkip(
                    href: move.candidate.href, reason: reason == .reopened && taken ? .reopenedNameTaken : reason,
                    detail: taken
                        ? "its name was taken meanwhile: it stays in quarantine as \(record.id)"
                        : "\(error); it stays in quarantine as \(record.id)",
                    quarantineID: record.id))
        }
    }

    private func removeSysV(
        _ candidates: [ReclaimCandidate], olderThan: Double, _ reclaimed: inout [ReclaimCandidate],
        _ skipped: inout [ReclaimSkip]
    ) {
        let recheck = scanner.freshSnapshot()
        for candidate in candidates {
            guard let id = candidate.segment, let segment = recheck.sysv.first(where: { $0.id == id }),
                Self.keyText(segment.key) == candidate.name
            else {
                skipped.append(ReclaimSkip(href: candidate.href, reason: .gone))
                continue
            }
            if segment.nattch > 0 {
                skipped.append(ReclaimSkip(href: candidate.href, reason: .attached))
                continue
            }
            let idle =
                Double(recheck.wallTime) - Double(max(segment.changedAt, segment.detachedAt, segment.attachedAt))
            if idle < olderThan {
                skipped.append(ReclaimSkip(href: candidate.href, reason: .modified))
                continue
            }
            let member = recheck.processes.filter { $0.value.ipc == segment.ipc }.keys.min()
            do throws(SystemCallError) {
                let removed = try GuardedDelete.removeSegment(
                    shmid: segment.shmid, ipc: segment.ipc, own: recheck.ownIPCNamespace, member: member,
                    procDirectory: scanner.configuration.procDirectory)
                guard removed else {
                    skipped.append(ReclaimSkip(href: candidate.href, reason: .gone))
                    continue
                }
            } catch {
                skipped.append(ReclaimSkip(href: candidate.href, reason: .failed, detail: "\(error)"))
                continue
            }
            quarantine.countReclaimed(candidate.bytes)
            quarantine.notify(.purged(kind: "sysv", name: candidate.name, mount: nil, bytes: candidate.bytes, id: nil))
            reclaimed.append(candidate)
        }
    }

    static func seconds(_ time: timespec) -> Double { Double(time.tv_sec) + Double(time.tv_nsec) / 1e9 }
}
