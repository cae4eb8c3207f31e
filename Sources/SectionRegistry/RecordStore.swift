import Synchronization
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// When the registry fsyncs its records.
///
/// A record describes an object in the shared-memory directory, and on tmpfs (what /dev/shm is)
/// every object is gone after a power loss or a kernel crash. What a record must survive there is a
/// crash of shm-admin, and a rename in the page cache does: the temporary file and the rename are
/// kept either way, only the fsyncs are skipped. What the fsyncs would add is that the list of
/// `missing` sections after a power loss also includes the changes of the last few seconds (the
/// file system's commit interval; a clean shutdown writes them anyway). Each create and delete made
/// three fsyncs that kept a request's worker waiting on the state directory's disk.
public enum RecordSync: String, Sendable, CaseIterable {
    /// fsync when the shared-memory directory keeps its objects over a power loss (not tmpfs, ramfs
    /// or hugetlbfs); otherwise not.
    case auto
    /// fsync every record change before it is acknowledged.
    case always

    func syncs(sectionsOnVolatileStorage volatile: Bool) -> Bool {
        switch self {
        case .auto: !volatile
        case .always: true
        }
    }
}

/// The state directory: `records/` with one file per managed section, written crash-safely
/// (temporary file, rename; with `syncs`, fsyncs of the file before and of the directory after),
/// and `corrupt/` for records that could not be read.
final class RecordStore: Sendable {
    let path: String
    /// Whether acknowledged changes are fsynced (`RecordSync`).
    let syncs: Bool
    let recordsPath: String
    private let corruptPath: String
    private let counter = AtomicCounter()
    /// fsyncs of record files and of the records directory so far (tests count them per operation).
    let fileSyncs = AtomicCounter()
    let directorySyncs = AtomicCounter()
    private let directorySync = SharedPass<SystemCallError?>()

    init(path: String, syncs: Bool = true) throws(SectionError) {
        self.path = path
        self.syncs = syncs
        self.recordsPath = path + "/records"
        self.corruptPath = path + "/corrupt"
        for directory in [path, recordsPath, corruptPath] { try Self.makeDirectory(directory) }
        removeStaleTemporaries()
    }

    static func makeDirectory(_ path: String) throws(SectionError) {
        var prefix = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            prefix += (prefix.isEmpty && path.hasPrefix("/") && component.isEmpty) ? "" : "/" + component
            if prefix.isEmpty || prefix == "/" { continue }
            let target = path.hasPrefix("/") ? prefix : String(prefix.dropFirst())
            do throws(SystemCallError) { try createDirectory(target, mode: 0o700) } catch {
                throw SectionError(.stateStorage, "cannot create the state directory \(target)", cause: error)
            }
        }
    }

    func fileName(for name: String) -> String { SHA256.hex(of: name) + ".json" }

    /// Writes `record` so that after a process crash at any instant either the old or the new record
    /// is there, never a torn one.
    ///
    /// With `syncs`: a temporary file renamed over the old one. `durable` (the default): the data is
    /// fsynced before the rename and the directory after it, so the new record also survives the
    /// kernel going down (power loss) once this returns. Not durable: neither fsync, for a phase
    /// (`creating`, `deleting`) that a durable save or removal of the same record replaces before the
    /// operation is acknowledged. A power loss can then leave the old record, the phase, or a torn
    /// phase file (set aside as corrupt at the next start); in every case the object it is about is
    /// gone with /dev/shm, so nothing acknowledged is lost (each fsync keeps a worker waiting on the
    /// disk: bench/ANALYSIS.md, the create/delete cycle).
    ///
    /// Without `syncs` (`RecordSync`), a new record is written the same way, without fsyncs, and an
    /// existing one is overwritten in place (`overwrite`).
    func save(_ record: SectionRecord, durable: Bool = true) throws(SectionError) {
        let durable = durable && syncs
        let bytes = record.encoded()
        let final = recordsPath + "/" + fileName(for: record.name)
        if !syncs {
            if try overwrite(final, with: bytes, record.name) { return }
            if try reuseFreeFile(for: final, with: bytes, record.name) { return }
        }
        let temporary = recordsPath + "/.tmp-\(getpid())-\(counter.next())"
        do throws(SystemCallError) {
            let file = try openFile(temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            try file.writeAll(bytes, at: 0)
            if durable {
                try file.synchronize()
                _ = fileSyncs.next()
            }
            try renameFile(temporary, to: final)
        } catch {
            try? removeFile(temporary)
            throw storageError(error, record.name)
        }
        if durable { try syncDirectory(record.name) }
    }

    /// Rewrites the record file at `path`, if it exists, with one write at its start, padded with
    /// spaces to the old length (JSON allows trailing whitespace) so that no old byte is left after
    /// the new record. A write within the file's first page is copied into the page cache whole or
    /// not at all, even if the process is killed meanwhile. False when there is no such file yet, or
    /// when old or new record is longer than a page: the caller then writes a temporary file and
    /// renames it.
    ///
    /// A rename over the old record frees its inode and makes a new one for the temporary: on ext4
    /// that was half the server's time in the create/PUT/grow/delete cycle (three per cycle:
    /// `creating`, `ready`, `deleting`), with every worker queued on the records directory's lock.
    private func overwrite(_ path: String, with bytes: [UInt8], _ name: String) throws(SectionError) -> Bool {
        guard bytes.count <= Int(systemPageSize) else { return false }
        do throws(SystemCallError) {
            let file: OwnedDescriptor
            do throws(SystemCallError) {
                file = try openFile(path, flags: O_WRONLY | O_NOFOLLOW)
            } catch  where error.errno == .noSuchFileOrDirectory {
                return false
            }
            let length = max(bytes.count, Int(try file.status().st_size))
            guard length <= Int(systemPageSize) else { return false }
            try file.writeAll(bytes + repeatElement(UInt8(ascii: " "), count: length - bytes.count), at: 0)
            return true
        } catch {
            throw storageError(error, name)
        }
    }

    /// Without `syncs`, the record file of a deleted section is renamed to `.free-…` and kept (up to
    /// `freeFileLimit`), to be written with a new section's record and renamed to its name: ext4
    /// then neither frees an inode at the delete nor allocates one at the create (finding a free
    /// inode that was not freed just now, `recently_deleted`, was most of a create's own time in
    /// the create/delete cycle). Any left at a start are removed.
    private let freeFiles = Mutex<[String]>([])
    static let freeFileLimit = 64
    static let freePrefix = ".free-"

    /// Record files kept for reuse now (tests).
    var freeFileCount: Int { freeFiles.withLock { $0.count } }

    /// Writes `bytes` into a kept free file (`overwrite`) and renames it to `final`, which does not
    /// exist: a crash in between leaves a free file, removed at the next start. False when none is
    /// kept, or it cannot be used (it is then removed).
    private func reuseFreeFile(for final: String, with bytes: [UInt8], _ name: String) throws(SectionError) -> Bool {
        guard let free = freeFiles.withLock({ $0.popLast() }) else { return false }
        do throws(SectionError) {
            guard try overwrite(free, with: bytes, name) else {
                try? removeFile(free)
                return false
            }
            try performing("rename", on: name) { () throws(SystemCallError) in try renameFile(free, to: final) }
            return true
        } catch {
            try? removeFile(free)
            throw error
        }
    }

    /// Removes a record; a missing one is not an error. With `syncs`, the directory is fsynced even
    /// when the unlink fails: the phase saved just before (a delete's `deleting`) is then what
    /// finishes the operation at the next start, and its rename must not be lost with the kernel.
    func remove(_ name: String) throws(SectionError) {
        let path = recordsPath + "/" + fileName(for: name)
        if !syncs, freeFiles.withLock({ $0.count < Self.freeFileLimit }) {
            let free = recordsPath + "/" + Self.freePrefix + "\(getpid())-\(counter.next())"
            do throws(SystemCallError) {
                try renameFile(path, to: free)
                freeFiles.withLock { $0.append(free) }
                return
            } catch  where error.errno == .noSuchFileOrDirectory {
                return
            } catch {}  // removed below instead
        }
        do throws(SystemCallError) {
            try removeFile(path)
        } catch  where error.errno == .noSuchFileOrDirectory {
        } catch {
            if syncs { try? syncDirectory(name) }
            throw SectionError(
                .stateStorage, "cannot remove the record of section '\(name)'", section: name, cause: error)
        }
        if syncs { try syncDirectory(name) }
    }

    /// Every readable record; unreadable ones are moved to `corrupt/` and named in the second list.
    func loadAll() -> (records: [SectionRecord], corrupt: [String]) {
        var records: [SectionRecord] = []
        var corrupt: [String] = []
        for file in recordFiles() where !file.hasPrefix(".") {
            let filePath = recordsPath + "/" + file
            if let bytes = readSmallFile(filePath, limit: 1 << 20),
                let record = try? SectionRecord(decoding: bytes),
                fileName(for: record.name) == file, SectionName.problem(with: record.name) == nil
            {
                records.append(record)
            } else {
                corrupt.append(file)
                try? renameFile(filePath, to: corruptPath + "/" + file + ".\(Int(wallClockNow()))")
            }
        }
        return (records, corrupt)
    }

    /// The names of the files in `records/`.
    private func recordFiles() -> [String] {
        ((try? directoryEntries(recordsPath)) ?? []).filter { $0.type != UInt8(DT_DIR) }.map(\.name)
    }

    private func removeStaleTemporaries() {
        for file in recordFiles() where file.hasPrefix(".tmp-") || file.hasPrefix(Self.freePrefix) {
            try? removeFile(recordsPath + "/" + file)
        }
    }

    /// Makes every rename and unlink in `records/` so far durable. An fsync of the directory that
    /// starts after a caller's rename covers it, whoever asked for it: concurrent creates and
    /// deletes share one (`SharedPass`) instead of queueing one each at the disk. A failure is every
    /// waiter's, since none of their changes is known to be on disk.
    private func syncDirectory(_ name: String) throws(SectionError) {
        let failure = directorySync.value { () -> SystemCallError? in
            do throws(SystemCallError) {
                try openFile(recordsPath, flags: O_RDONLY | O_DIRECTORY).synchronize()
                _ = directorySyncs.next()
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw storageError(failure, name) }
    }

    private func storageError(_ failure: SystemCallError, _ name: String) -> SectionError {
        let full = failure.errno == .noSpace || failure.errno == .diskQuotaExceeded
        return SectionError(
            full ? .insufficientSpace : .stateStorage,
            "cannot write the record of section '\(name)' in the state directory \(path)", section: name, cause: failure
        )
    }
}
