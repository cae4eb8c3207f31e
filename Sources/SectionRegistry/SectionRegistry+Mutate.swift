import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

extension SectionRegistry {
    /// Grows the commit to a size or by an amount: never shrinks, never past the reserve. The new
    /// range is allocated (fallocate) before the size changes; on ENOSPC tmpfs undoes the partial
    /// allocation and the object is exactly as before.
    public func grow(named name: SectionName, _ target: GrowTarget) throws(SectionError) -> SectionInfo {
        let record = try managedRecord(name, doing: "grow")
        return try withNameLock(name.value) { () throws(SectionError) in
            let (object, status) = try openExistingWithStatus(name, flags: O_RDWR, doing: "grow")
            let size = Int64(status.st_size)
            let wanted: Int64
            switch target {
            case .commit(let commit): wanted = commit
            case .by(let amount):
                let (sum, overflow) = size.addingReportingOverflow(amount)
                guard amount >= 0, !overflow else {
                    throw SectionError(
                        .invalidSize, "cannot grow section '\(name.value)' by \(amount)", section: name.value)
                }
                wanted = sum
            }
            guard wanted >= 0, let commit = ByteSize.roundUp(wanted, toMultipleOf: pageSize) else {
                throw SectionError(.invalidSize, "commit \(wanted) is not a size", section: name.value)
            }
            if commit < size {
                throw SectionError(
                    .shrinkRefused(commit: size),
                    "section '\(name.value)' has \(ByteSize.describe(size)) committed; a commit never shrinks",
                    section: name.value)
            }
            if commit > record.reserve {
                throw SectionError(
                    .pastReserve,
                    "commit \(ByteSize.describe(commit)) is past the reserve \(ByteSize.describe(record.reserve)) of section '\(name.value)'",
                    section: name.value)
            }
            try checkCapacity(commit: commit, section: name.value)
            if commit > size {
                changes.noteOwnChange(name.value)
                let dataBefore = (try? PageWalker.dataBytes(of: object, size: size, section: name.value)) ?? 0
                growing.withLock { $0[name.value] = dataBefore }
                defer { _ = growing.withLock { $0.removeValue(forKey: name.value) } }
                try performing("commit \(ByteSize.describe(commit - size)) more for", on: name.value) {
                    () throws(SystemCallError) in
                    try object.allocate(offset: size, length: commit - size)
                }
                changes.publish(.grown, name.value, .grown(commit: commit, previous: size))
            }
            return try section(named: name, open: (object, UInt64(status.st_ino)))
        }
    }

    /// Discards the contents of a page-aligned range inside the commit and returns its memory:
    /// the range reads as zeros (a punched hole, Win32 MEM_RESET).
    public func reset(named name: SectionName, offset: Int64, length: Int64) throws(SectionError) -> SectionInfo {
        _ = try managedRecord(name, doing: "reset")
        guard offset >= 0, length >= 0, offset % pageSize == 0, length % pageSize == 0 else {
            throw SectionError(
                .invalidArgument, "offset and length must be non-negative multiples of the page size \(pageSize)",
                section: name.value)
        }
        return try withNameLock(name.value) { () throws(SectionError) in
            let (object, status) = try openExistingWithStatus(name, flags: O_RDWR, doing: "reset")
            let size = Int64(status.st_size)
            try Self.checkRange(offset: offset, length: length, commit: size, section: name.value)
            if length > 0 {
                changes.noteOwnChange(name.value)
                try performing("reset a range of", on: name.value) { () throws(SystemCallError) in
                    try object.punchHole(offset: offset, length: length)
                }
                changes.publish(.reset, name.value, .range(offset: offset, length: length))
            }
            return try section(named: name, open: (object, UInt64(status.st_ino)))
        }
    }

    /// Writes `bytes` at `offset` with pwrite, inside the commit. Out of range: nothing written,
    /// unless `partial`, which writes what fits and says so.
    public func write(named name: SectionName, offset: Int64, bytes: UnsafeRawBufferPointer, partial: Bool = false)
        throws(SectionError) -> WriteResult
    {
        _ = try managedRecord(name, doing: "write to")
        let (object, status) = try openExistingWithStatus(name, flags: O_RDWR, doing: "write to")
        let size = Int64(status.st_size)
        let count = try Self.fit(
            offset: offset, length: Int64(bytes.count), commit: size, partial: partial, section: name.value)
        var done: Int64 = 0
        if count > 0 { changes.noteOwnChange(name.value) }
        while done < count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[Int(done)..<Int(count)])
            let result = try performing("write to", on: name.value) { () throws(SystemCallError) in
                try object.write(rest, at: offset + done)
            }
            if result == 0 { break }
            done += Int64(result)
        }
        if done > 0 { changes.publish(.written, name.value, .range(offset: offset, length: done)) }
        return WriteResult(offset: offset, written: done, requested: Int64(bytes.count))
    }

    /// Reads `length` bytes at `offset` with pread; the range must lie inside the commit.
    public func read(named name: SectionName, offset: Int64, length: Int64) throws(SectionError) -> [UInt8] {
        let (object, status) = try openExistingWithStatus(name, flags: O_RDONLY, doing: "read")
        let size = Int64(status.st_size)
        try Self.checkRange(offset: offset, length: length, commit: size, section: name.value)
        // Not zeroed first: pread fills every byte returned (a 4 MiB hexdump spent 4.5 M instructions in memset).
        var failure: SectionError?
        let bytes = [UInt8](unsafeUninitializedCapacity: Int(length)) { buffer, initialized in
            while initialized < buffer.count {
                let start = initialized
                do throws(SectionError) {
                    let result = try performing("read", on: name.value) { () throws(SystemCallError) in
                        try object.read(
                            into: UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[start...])),
                            at: offset + Int64(start))
                    }
                    if result == 0 {  // truncated under us
                        throw SectionError(
                            .outOfRange(commit: (try? object.status()).map { Int64($0.st_size) } ?? 0),
                            "section '\(name.value)' was truncated while being read", section: name.value)
                    }
                    initialized += result
                } catch {
                    failure = error
                    return
                }
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// The object opened for the caller to stream, with its size now. With `lockTimeout`, the
    /// section's shared lock is taken on it first: the lock lasts as long as the returned value.
    public func openForStreaming(named name: SectionName, lockTimeout: Double? = nil) throws(SectionError)
        -> OpenedObject
    {
        let object = try openExisting(name, flags: O_RDONLY, doing: "read")
        if let lockTimeout {
            do throws(SectionError) {
                try LeaseTable.acquire(object, mode: .shared, timeout: lockTimeout, section: name.value)
            } catch {
                throw withHolders(error, name)
            }
        }
        return OpenedObject(object, commit: Int64(try status(of: object, name).st_size))
    }

    /// Registers a foreign section: from now on it has a reserve, a namespace and labels.
    public func adopt(
        named name: SectionName, reserve: Int64? = nil, namespace: Namespace? = nil, labels: [String: String] = [:],
        creator: String = "api"
    ) throws(SectionError) -> SectionInfo {
        if name.isSemaphoreName {
            throw SectionError(
                .semaphore, "'\(name.value)' is a POSIX semaphore and cannot be adopted", section: name.value)
        }
        try Self.validate(labels: labels)
        return try withNameLock(name.value) { () throws(SectionError) in
            if record(name.value) != nil {
                throw SectionError(.alreadyManaged, "section '\(name.value)' is already managed", section: name.value)
            }
            let (object, status) = try openExistingWithStatus(name, flags: O_RDONLY, doing: "adopt")
            let size = Int64(status.st_size)
            let wanted = reserve ?? max(size, 1)
            guard wanted >= size, wanted >= 1, let paged = ByteSize.roundUp(wanted, toMultipleOf: pageSize) else {
                throw SectionError(
                    .invalidArgument,
                    "reserve \(ByteSize.describe(wanted)) is smaller than the commit \(ByteSize.describe(size)) of section '\(name.value)'",
                    section: name.value)
            }
            // A namespace asked for is the mode the object gets: the record must not claim `global`
            // for an object only its owner may open.
            let previousMode = status.st_mode & 0o7777
            if let namespace, UInt32(status.st_mode) & 0o777 != namespace.mode {
                try performing("set the mode of", on: name.value) { () throws(SystemCallError) in
                    try object.setPermissions(mode_t(namespace.mode))
                }
            }
            let record = SectionRecord(
                name: name.value, reserve: paged,
                namespace: namespace ?? Namespace.of(mode: UInt32(status.st_mode) & 0o777), labels: labels,
                createdAt: wallClockNow(), createdBy: creator, adopted: true, phase: .ready,
                inode: UInt64(status.st_ino))
            do throws(SectionError) { try store.save(record) } catch {
                // Put the mode back; if even that fails, the record error is still the one to report.
                try? object.setPermissions(previousMode)
                throw error
            }
            records.withLock { $0[name.value] = record }
            changes.publish(.adopted, name.value, .adopted(reserve: paged))
            return try section(named: name)
        }
    }

    /// Unlinks a managed section and forgets it. Refused while other processes map it, unless
    /// `force`. The server's own views and leases of it go first.
    public func delete(named name: SectionName, force: Bool = false) throws(SectionError) {
        if name.isSemaphoreName {
            throw SectionError(
                .semaphore, "'\(name.value)' is a POSIX semaphore and is never deleted here", section: name.value)
        }
        guard var record = record(name.value) else {
            if try entryStatus(name) != nil {
                throw SectionError(
                    .notManaged, "section '\(name.value)' is foreign: adopt it before deleting it", section: name.value)
            }
            throw SectionError(.notFound, "section '\(name.value)' does not exist", section: name.value)
        }
        try withNameLock(name.value) { () throws(SectionError) in
            if let status = try entryStatus(name), !force, !isOpenByNobodyElse(name) {
                let pids = Set(scanner.currentMappers(of: UInt64(status.st_ino)).map(\.pid)).sorted()
                if !pids.isEmpty {
                    throw SectionError(
                        .mappedByOthers(pids: pids),
                        "section '\(name.value)' is mapped by \(pids.count) other process(es); use force to delete it anyway",
                        section: name.value)
                }
            }
            // `deleting` finishes the delete at the next start if the process dies between the unlink
            // and the removal of the record. It is saved without fsyncs: a process crash never loses
            // its rename, and after a power loss (/dev/shm empty) `ready` would only make the section
            // come back as missing, and a torn phase file is set aside as corrupt; neither loses an
            // acknowledged change. When the store syncs (`RecordSync`), the removal below syncs the
            // directory (even when its unlink fails) before the delete is acknowledged.
            record.phase = .deleting
            try store.save(record, durable: false)
            for id in views.removeAll(of: name.value) { changes.publish(.viewUnmapped, name.value, .view(id: id)) }
            _ = leases.removeAll(of: name.value)
            changes.noteOwnChange(name.value)
            do throws(SystemCallError) { try directory.remove(name) } catch  where error.errno == .noSuchFileOrDirectory
            {
            } catch {
                throw SectionError(error, section: name.value, doing: "delete")
            }
            records.withLock { _ = $0.removeValue(forKey: name.value) }
            try? store.remove(name.value)
            changes.publish(.deleted, name.value)
        }
    }

    /// Whether no process (this one included) has the object open or mapped: then no other process
    /// maps it, and a delete needs no pass over every process's maps. The kernel grants a write lease only to the sole open
    /// file description of a file, and a mapping keeps its file open after its descriptor is closed.
    /// False when anything is open, and when leases are unavailable (disabled, another owner's
    /// file): the caller then looks at /proc.
    func isOpenByNobodyElse(_ name: SectionName) -> Bool {
        guard let object = try? directory.open(name, flags: O_RDONLY | O_NONBLOCK) else { return false }
        return object.isSoleOpenFile() == true
    }

    // MARK: - Rules shared by the data paths

    func managedRecord(_ name: SectionName, doing action: String) throws(SectionError) -> SectionRecord {
        if let record = record(name.value) { return record }
        if name.isSemaphoreName {
            throw SectionError(
                .semaphore, "'\(name.value)' is a POSIX semaphore and is never changed here", section: name.value)
        }
        if try entryStatus(name) != nil {
            throw SectionError(
                .notManaged, "section '\(name.value)' is foreign: adopt it before you \(action) it", section: name.value
            )
        }
        throw SectionError(.notFound, "section '\(name.value)' does not exist", section: name.value)
    }

    static func checkRange(offset: Int64, length: Int64, commit: Int64, section: String) throws(SectionError) {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard offset >= 0, length >= 0, !overflow, end <= commit else {
            throw SectionError(
                .outOfRange(commit: commit),
                "the range at \(offset) of \(length) bytes is outside the commit (\(commit) bytes) of section '\(section)'",
                section: section)
        }
    }

    /// How many bytes of a write fit; throws when it does not fit and partial was not asked.
    static func fit(offset: Int64, length: Int64, commit: Int64, partial: Bool, section: String) throws(SectionError)
        -> Int64
    {
        if partial && offset >= 0 && offset <= commit { return min(length, commit - offset) }
        try checkRange(offset: offset, length: length, commit: commit, section: section)
        return length
    }
}
