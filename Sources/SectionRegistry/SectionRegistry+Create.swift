import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

extension SectionRegistry {
    /// Creates a section, or opens the existing one of that name (`created` false) unless
    /// `exclusive`. The commit is allocated up front; when memory is short nothing is left behind.
    ///
    /// The object is made under a temporary name, allocated, recorded durably, and only then
    /// renamed to its name (`renameat2(RENAME_NOREPLACE)`): a crash at any step leaves either
    /// nothing or a complete, recorded section.
    public func create(_ request: CreateRequest) throws(SectionError) -> (section: SectionInfo, created: Bool) {
        let (reserve, commit) = try validatedSizes(reserve: request.reserve, commit: request.commit)
        try Self.validate(labels: request.labels)
        let name: SectionName
        if let given = request.name { name = given } else { name = try generatedName() }
        try checkCapacity(commit: commit, section: name.value)
        if name.isSemaphoreName {
            throw SectionError(
                .invalidName, "names starting with 'sem.' belong to POSIX semaphores", section: name.value)
        }
        return try withNameLock(name.value) { () throws(SectionError) in
            if let existing = try entryStatus(name) {
                if request.exclusive || !Self.isListable(existing) { throw existsError(name, existing) }
                return (try section(named: name), false)
            }
            let temporary = Self.temporaryName()
            let mode = mode_t(request.namespace.mode)
            let object = try performing("create", on: name.value) { () throws(SystemCallError) in
                try directory.open(temporary, flags: O_RDWR | O_CREAT | O_EXCL, mode: mode)
            }
            var published = false
            defer { if !published { try? directory.remove(temporary) } }
            // The mode is the namespace's whatever the umask.
            try performing("set the mode of", on: name.value) { () throws(SystemCallError) in
                try object.setPermissions(mode)
            }
            if commit > 0 {
                try performing("commit \(ByteSize.describe(commit)) for", on: name.value) {
                    () throws(SystemCallError) in
                    try object.allocate(offset: 0, length: commit)
                }
            }
            // The record says `creating` before the object gets its name and `ready` after: a crash
            // in between is finished (the object has the record's inode) or rolled back at the next
            // start, whoever removed the temporary meanwhile.
            // `creating` is saved without fsyncs (see `RecordStore.save`): a process crash never loses
            // its rename, and after a power loss /dev/shm is empty, so whatever is left of it (nothing,
            // the phase, or a torn file set aside as corrupt) describes no object. The `ready` save is
            // durable (data and directory) before the create is acknowledged when the store syncs
            // (`RecordSync`); otherwise it overwrites `creating` in place.
            var record = SectionRecord(
                name: name.value, reserve: reserve, namespace: request.namespace, labels: request.labels,
                createdAt: wallClockNow(), createdBy: request.creator, adopted: false, phase: .creating,
                inode: UInt64(try status(of: object, name).st_ino))
            try store.save(record, durable: false)
            changes.noteOwnChange(name.value)
            // Known in memory before the object has its name: no other thread may see it as foreign.
            let previous = records.withLock { $0.updateValue(record, forKey: name.value) }
            do throws(SystemCallError) {
                try directory.publish(temporary, as: name)
            } catch {
                restore(previous, of: name.value)
                guard error.errno == .fileExists else {
                    throw SectionError(error, section: name.value, doing: "create")
                }
                let existing = try entryStatus(name)
                if request.exclusive || existing.map(Self.isListable) == false { throw existsError(name, existing) }
                return (try section(named: name), false)
            }
            record.phase = .ready
            do throws(SectionError) { try store.save(record) } catch {
                try? directory.remove(name)  // ours, never acknowledged: nothing half-made stays
                restore(previous, of: name.value)
                published = true
                throw error
            }
            published = true
            records.withLock { $0[name.value] = record }
            changes.publish(.created, name.value, .created(commit: commit, reserve: reserve))
            return (try section(named: name, open: (object, record.inode ?? 0)), true)
        }
    }

    /// Puts back what was known of `name` before a create that failed (a missing section's record, or nothing).
    private func restore(_ previous: SectionRecord?, of name: String) {
        records.withLock { $0[name] = previous }
        changeGeneration.bump()  // no event tells of it: a listing made during the create is not served
        if let previous { try? store.save(previous) } else { try? store.remove(name) }
    }

    /// A commit the filesystem could not hold even empty is refused before anything is made: no
    /// retry can succeed, unlike a filesystem that is full now. (A tmpfs without a size limit
    /// reports no blocks and is not checked.)
    func checkCapacity(commit: Int64, section: String) throws(SectionError) {
        let size = directory.capacity().size
        guard size > 0, commit > size else { return }
        throw SectionError(
            .pastCapacity(filesystemBytes: size),
            "a commit of \(ByteSize.describe(commit)) for section '\(section)' can never fit: the filesystem at \(directory.path) holds \(ByteSize.describe(size)) in all",
            section: section)
    }

    /// Reserve and commit rounded up to pages, commit defaulting to the reserve.
    func validatedSizes(reserve: Int64, commit: Int64?) throws(SectionError) -> (Int64, Int64) {
        guard reserve >= 1 else { throw SectionError(.invalidSize, "reserve must be at least 1 byte (got \(reserve))") }
        guard let pagedReserve = ByteSize.roundUp(reserve, toMultipleOf: pageSize) else {
            throw SectionError(.invalidSize, "reserve \(reserve) is too large")
        }
        let requested = commit ?? reserve
        guard requested >= 0 else { throw SectionError(.invalidSize, "commit must not be negative (got \(requested))") }
        guard requested <= reserve else {
            throw SectionError(
                .invalidArgument,
                "commit \(ByteSize.describe(requested)) is larger than reserve \(ByteSize.describe(reserve))")
        }
        return (pagedReserve, ByteSize.roundUp(requested, toMultipleOf: pageSize) ?? pagedReserve)
    }

    static func validate(labels: [String: String]) throws(SectionError) {
        guard labels.count <= 64 else { throw SectionError(.invalidArgument, "at most 64 labels are allowed") }
        for (key, value) in labels {
            guard (1...63).contains(key.utf8.count), value.utf8.count <= 255 else {
                throw SectionError(
                    .invalidArgument, "label keys are 1 to 63 bytes and values at most 255 bytes ('\(key.prefix(80))')")
            }
        }
    }

    private func generatedName() throws(SectionError) -> SectionName {
        let random = UInt64.random(in: 0...UInt64.max)
        let hex = String(random, radix: 16)
        return try SectionName("shm-" + String(repeating: "0", count: 16 - hex.count) + hex)
    }

    /// `.exists`. A name taken by an entry that is no object (a symbolic link, a directory, a FIFO) is taken
    /// too: it is neither created over nor opened as a section.
    private func existsError(_ name: SectionName, _ existing: stat?) -> SectionError {
        guard let existing, !Self.isListable(existing) else {
            return SectionError(.exists, "section '\(name.value)' already exists", section: name.value)
        }
        return SectionError(
            .exists, "the name '\(name.value)' is taken by an entry that is not a shared-memory object",
            section: name.value)
    }
}
