#if canImport(Glibc)
    import Glibc
#endif

extension SectionRegistry {
    /// Follows another process that shares the state directory (`shm-admin create` in local mode
    /// beside a running server): when the directory watcher reports another process's change to a
    /// name, that name's record is read again, so a section made, adopted with a new mode or deleted
    /// there is managed, or forgotten, here too — not foreign, nor `missing`, until a restart.
    func followRecordsOfOtherProcesses() {
        _ = changes.subscribe { [weak self] event in
            guard event.source == .external, let name = event.section, let self else { return }
            switch event.kind {
            case .created, .modified, .deleted: self.reloadRecord(of: name)
            default: break
            }
        }
    }

    /// Brings `name`'s record in memory in line with its file, under the name's lock (so never in the
    /// middle of this process's own create or delete of it).
    func reloadRecord(of name: String) {
        guard !Self.isInternalName(name), SectionName.problem(with: name) == nil else { return }
        let section = SectionName(unchecked: name)
        try? withNameLock(name) { () throws(SectionError) in
            let onDisk = store.load(name)
            let inode = (try? directory.status(of: section)).flatMap { $0 }.map { UInt64($0.st_ino) }
            records.withLock { table in
                guard var record = onDisk, record.phase != .deleting else {
                    // No record any more (or one being deleted): the other process deleted the section.
                    table[name] = nil
                    return
                }
                if record.phase == .creating {
                    // Made ready by its creator once the object had its name: the object with the
                    // record's inode is that name now (as a start finishes such a create).
                    guard let inode, record.inode == inode else { return }
                    record.phase = .ready
                }
                table[name] = record
            }
            changeGeneration.bump()  // after the event that brought it: a listing made between is not served
        }
    }
}

extension RecordStore {
    /// The record of `name` as its file holds it now; nil when there is none or it cannot be read.
    func load(_ name: String) -> SectionRecord? {
        guard let bytes = readSmallFile(recordsPath + "/" + fileName(for: name), limit: 1 << 20),
            let record = try? SectionRecord(decoding: bytes), record.name == name
        else { return nil }
        return record
    }
}
