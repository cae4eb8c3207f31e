import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The state directory: `records/` with one file per managed section, written crash-safely
/// (temporary file, fsync, rename, fsync of the directory), and `corrupt/` for records that
/// could not be read.
final class RecordStore: Sendable {
    let path: String
    private let recordsPath: String
    private let corruptPath: String
    private let counter = AtomicCounter()
    /// fsyncs of record files and of the records directory so far (tests count them per operation).
    let fileSyncs = AtomicCounter()
    let directorySyncs = AtomicCounter()
    private let directorySync = SharedPass<(call: String, errno: Int32)?>()

    init(path: String) throws(SectionError) {
        self.path = path
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
            if mkdir(target, 0o700) != 0 && errno != EEXIST {
                throw SectionError(
                    .stateStorage, "cannot create the state directory \(target)", errno: errno, systemCall: "mkdir")
            }
        }
    }

    private func fileName(for name: String) -> String { SHA256.hex(of: name) + ".json" }

    /// Writes `record` (a temporary file renamed over the old one): after a process crash at any
    /// instant either the old or the new record is there, never a torn one.
    ///
    /// `durable` (the default): the data is fsynced before the rename and the directory after it, so
    /// the new record also survives the kernel going down (power loss) once this returns. Not
    /// durable: neither fsync, for a phase (`creating`, `deleting`) that a durable save or removal of
    /// the same record replaces before the operation is acknowledged. A power loss can then leave the
    /// old record, the phase, or a torn phase file (set aside as corrupt at the next start); in every
    /// case the object it is about is gone with /dev/shm, so nothing acknowledged is lost. Each
    /// fsync kept the request's worker waiting on the disk: two fewer per create/delete cycle took
    /// the 32-client cycle from 2,900 to 3,900 req/s.
    func save(_ record: SectionRecord, durable: Bool = true) throws(SectionError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes: [UInt8]
        do { bytes = Array(try encoder.encode(record)) } catch {
            throw SectionError(.stateStorage, "cannot encode the record of section '\(record.name)'")
        }
        let temporary = recordsPath + "/.tmp-\(getpid())-\(counter.next())"
        let final = recordsPath + "/" + fileName(for: record.name)
        do throws(SectionError) {
            let fd = try storageCall("open", record.name) {
                open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            }
            defer { close(fd) }
            var done = 0
            while done < bytes.count {
                let count = try storageCall("write", record.name) {
                    bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
                }
                done += count
            }
            if durable {
                try storageCall("fsync", record.name) { fsync(fd) }
                _ = fileSyncs.next()
            }
            try storageCall("rename", record.name) { rename(temporary, final) }
        } catch {
            unlink(temporary)
            throw error
        }
        if durable { try syncDirectory(record.name) }
    }

    /// Removes a record; a missing one is not an error. The directory is fsynced even when the
    /// unlink fails: the phase saved just before (a delete's `deleting`) is then what finishes the
    /// operation at the next start, and its rename must not be lost with the kernel.
    func remove(_ name: String) throws(SectionError) {
        if unlink(recordsPath + "/" + fileName(for: name)) != 0 && errno != ENOENT {
            let code = errno
            try? syncDirectory(name)
            throw SectionError(
                .stateStorage, "cannot remove the record of section '\(name)'", section: name, errno: code,
                systemCall: "unlink")
        }
        try syncDirectory(name)
    }

    /// Every readable record; unreadable ones are moved to `corrupt/` and named in the second list.
    func loadAll() -> (records: [SectionRecord], corrupt: [String]) {
        var records: [SectionRecord] = []
        var corrupt: [String] = []
        let decoder = JSONDecoder()
        for file in listFiles(recordsPath) where !file.hasPrefix(".") {
            let filePath = recordsPath + "/" + file
            if let bytes = readSmallFile(filePath, limit: 1 << 20),
                let record = try? decoder.decode(SectionRecord.self, from: Data(bytes)),
                fileName(for: record.name) == file, SectionName.problem(with: record.name) == nil
            {
                records.append(record)
            } else {
                corrupt.append(file)
                rename(filePath, corruptPath + "/" + file + ".\(Int(wallClockNow()))")
            }
        }
        return (records, corrupt)
    }

    private func removeStaleTemporaries() {
        for file in listFiles(recordsPath) where file.hasPrefix(".tmp-") { unlink(recordsPath + "/" + file) }
    }

    private func listFiles(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." && entry.pointee.d_type != UInt8(DT_DIR) { names.append(name) }
        }
        return names
    }

    /// Makes every rename and unlink in `records/` so far durable. An fsync of the directory that
    /// starts after a caller's rename covers it, whoever asked for it: concurrent creates and
    /// deletes share one (`SharedPass`) instead of queueing one each at the disk. A failure is every
    /// waiter's, since none of their changes is known to be on disk.
    private func syncDirectory(_ name: String) throws(SectionError) {
        let failure = directorySync.value { () -> (call: String, errno: Int32)? in
            do throws(SectionError) {
                let fd = try storageCall("open", name) { open(recordsPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
                defer { close(fd) }
                try storageCall("fsync", name) { fsync(fd) }
                _ = directorySyncs.next()
                return nil
            } catch {
                return (error.systemCall ?? "fsync", error.errno ?? EIO)
            }
        }
        if let failure { throw storageError(failure.call, name, failure.errno) }
    }

    @discardableResult
    private func storageCall<T: BinaryInteger>(_ call: String, _ name: String, _ body: () -> T) throws(SectionError)
        -> T
    {
        while true {
            let result = body()
            if result != -1 { return result }
            if errno == EINTR { continue }
            throw storageError(call, name, errno)
        }
    }

    private func storageError(_ call: String, _ name: String, _ errno: Int32) -> SectionError {
        let code: SectionError.Code = errno == ENOSPC || errno == EDQUOT ? .insufficientSpace : .stateStorage
        return SectionError(
            code, "cannot write the record of section '\(name)' in the state directory \(path)", section: name,
            errno: errno, systemCall: call)
    }
}
