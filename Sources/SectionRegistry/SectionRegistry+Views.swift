import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

extension SectionRegistry {
    /// Maps a section (MAP_SHARED). The offset is page-aligned; the length defaults to the end of
    /// the reserve, so later grows are visible without remapping. Read-write views of foreign
    /// sections are refused: they are not changed before adoption.
    public func mapView(named name: SectionName, offset: Int64 = 0, length: Int64? = nil, access: Access)
        throws(SectionError) -> ViewInfo
    {
        if name.isSemaphoreName && access == .rw {
            throw SectionError(
                .semaphore, "'\(name.value)' is a POSIX semaphore and is never changed here", section: name.value)
        }
        let record = record(name.value)
        if record == nil && access == .rw { _ = try managedRecord(name, doing: "map read-write") }
        guard offset >= 0, offset % pageSize == 0 else {
            throw SectionError(
                .invalidArgument, "a view's offset must be a multiple of the page size \(pageSize)", section: name.value
            )
        }
        let (object, status) = try openExistingWithStatus(name, flags: access == .rw ? O_RDWR : O_RDONLY, doing: "map")
        let size = Int64(status.st_size)
        let end = max(record?.reserve ?? size, size)
        let wanted = length ?? (end - offset)
        guard wanted >= 1, let paged = ByteSize.roundUp(wanted, toMultipleOf: pageSize), offset <= end,
            paged <= end - offset || length == nil
        else {
            throw SectionError(
                .invalidArgument,
                "a view of section '\(name.value)' must lie inside its reserve (\(ByteSize.describe(end))) and not be empty",
                section: name.value)
        }
        guard views.claim(paged) else {
            throw SectionError(
                .insufficientSpace,
                "the server's views may take \(ViewTable.maximumCount) mappings and \(ByteSize.describe(ViewTable.maximumBytes)) of address space together; a view of \(ByteSize.describe(paged)) of section '\(name.value)' does not fit: unmap views first",
                section: name.value)
        }
        var claimed = true
        defer { if claimed { views.release(paged) } }
        let base: UnsafeMutableRawPointer
        do throws(SystemCallError) {
            base = try object.map(length: Int(paged), offset: offset, writable: access == .rw)
        } catch  where error.errno == .noMemory {
            // Not the tmpfs: the server's address space (or its map count) has no room for the view.
            throw SectionError(
                .insufficientSpace,
                "not enough address space to map \(ByteSize.describe(paged)) of section '\(name.value)'; unmap views first",
                section: name.value, cause: error)
        } catch {
            throw SectionError(error, section: name.value, doing: "map")
        }
        let view = MappedView(
            id: views.nextID(), section: name.value, offset: offset, length: paged, access: access, descriptor: object,
            address: UInt(bitPattern: base))
        views.add(view)
        claimed = false
        changes.publish(.viewMapped, name.value, .view(id: view.id))
        return view.info!
    }

    public func unmapView(named name: SectionName, id: String) throws(SectionError) {
        let view = try views.view(id, of: name.value)
        _ = views.remove(id)
        _ = view.unmap()
        changes.publish(.viewUnmapped, name.value, .view(id: id))
    }

    /// Moves a view to `newAddress` (nil: wherever the kernel likes) without copying a byte.
    public func moveView(named name: SectionName, id: String, from oldAddress: UInt, to newAddress: UInt?)
        throws(SectionError) -> ViewInfo
    {
        if let newAddress, newAddress % UInt(pageSize) != 0 {
            throw SectionError(.invalidArgument, "the new address must be page-aligned", section: name.value)
        }
        let view = try views.view(id, of: name.value)
        let address = try view.move(from: oldAddress, to: newAddress)
        changes.publish(.viewMoved, name.value, .viewMoved(id: id, address: address))
        guard let info = view.info else {
            throw SectionError(.viewNotFound, "view \(id) of section '\(name.value)' is unmapped", section: name.value)
        }
        return info
    }

    /// The bytes of a view that lie inside the object now (the view's own "commit").
    public func usableLength(named name: SectionName, view id: String) throws(SectionError) -> Int64 {
        try views.view(id, of: name.value).usableLength()
    }

    /// Reads through a view: the range (view coordinates) must be inside the view and inside the
    /// object as it is now; a range another process truncated away is `.outOfRange`, never a crash.
    public func readView(named name: SectionName, id: String, offset: Int64, length: Int64) throws(SectionError)
        -> [UInt8]
    {
        let view = try views.view(id, of: name.value)
        try Self.checkRange(offset: offset, length: length, commit: try view.usableLength(), section: name.value)
        var bytes = [UInt8](repeating: 0, count: Int(length))
        let outcome: Result<Void, SectionError> = bytes.withUnsafeMutableBytes { buffer in
            do throws(SectionError) { return .success(try view.copyOut(at: offset, into: buffer)) } catch {
                return .failure(error)
            }
        }
        try outcome.get()
        return bytes
    }

    public func writeView(
        named name: SectionName, id: String, offset: Int64, bytes: UnsafeRawBufferPointer, partial: Bool = false
    ) throws(SectionError) -> WriteResult {
        let view = try views.view(id, of: name.value)
        guard view.access == .rw else {
            throw SectionError(.readOnlyView, "view \(id) of section '\(name.value)' is read-only", section: name.value)
        }
        let usable = try view.usableLength()
        let count = try Self.fit(
            offset: offset, length: Int64(bytes.count), commit: usable, partial: partial, section: name.value)
        try view.copyIn(at: offset, from: UnsafeRawBufferPointer(rebasing: bytes[0..<Int(count)]))
        if count > 0 {
            changes.publish(.written, name.value, .range(offset: view.offset + offset, length: count, view: id))
        }
        return WriteResult(offset: offset, written: count, requested: Int64(bytes.count))
    }
}
