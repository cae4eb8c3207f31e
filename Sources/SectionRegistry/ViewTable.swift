import Synchronization
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// One of the server's own mappings of a section. Its memory is touched only through
/// process_vm_readv / process_vm_writev on this process, which fail with EFAULT where another
/// process truncated the object, instead of raising SIGBUS.
final class MappedView: Sendable {
    let id: String
    let section: String
    let offset: Int64
    let length: Int64
    let access: Access
    /// The mapped object, kept open to know its current size.
    let descriptor: OwnedDescriptor
    /// The address, nil once unmapped; held while the memory is being read, written or moved.
    let address: Mutex<UInt?>

    init(
        id: String, section: String, offset: Int64, length: Int64, access: Access, descriptor: OwnedDescriptor,
        address: UInt
    ) {
        self.id = id
        self.section = section
        self.offset = offset
        self.length = length
        self.access = access
        self.descriptor = descriptor
        self.address = Mutex(address)
    }

    deinit { address.withLock { if let base = $0 { Memory.unmap(base, length: Int(length)) } } }

    var info: ViewInfo? {
        address.withLock { base in
            base.map { ViewInfo(id: id, section: section, offset: offset, length: length, access: access, address: $0) }
        }
    }

    /// Unmaps; false when it already was.
    func unmap() -> Bool {
        address.withLock { base in
            guard let mapped = base else { return false }
            Memory.unmap(mapped, length: Int(length))
            base = nil
            return true
        }
    }

    /// The bytes of the view that lie inside the object now: `[0, min(length, size - offset))`.
    func usableLength() throws(SectionError) -> Int64 {
        let size = Int64(
            try performing("inspect", on: section) { () throws(SystemCallError) in try descriptor.status() }.st_size)
        return max(0, min(length, size - offset))
    }

    /// Copies `count` bytes at `position` (view coordinates) into `buffer`; EFAULT means the pages are gone.
    func copyOut(at position: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(SectionError) {
        try transfer(at: position, count: buffer.count) { base, done throws(SystemCallError) in
            try Memory.copy(from: base, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
        }
    }

    func copyIn(at position: Int64, from buffer: UnsafeRawBufferPointer) throws(SectionError) {
        try transfer(at: position, count: buffer.count) { base, done throws(SystemCallError) in
            try Memory.copy(UnsafeRawBufferPointer(rebasing: buffer[done...]), to: base)
        }
    }

    /// Runs `copy(address, done)` until `count` bytes are copied, `address` being where the copy
    /// goes on in the view; a failure or a copy that makes no progress means another process
    /// truncated the object under the view.
    private func transfer(at position: Int64, count: Int, _ copy: (UInt, Int) throws(SystemCallError) -> Int)
        throws(SectionError)
    {
        guard count > 0 else { return }
        let outcome: Result<Void, SectionError> = address.withLock { base in
            guard let mapped = base else {
                return .failure(
                    SectionError(.viewNotFound, "view \(id) of section '\(section)' is unmapped", section: section))
            }
            var done = 0
            while done < count {
                var failure: SystemCallError?
                do throws(SystemCallError) {
                    let result = try copy(mapped + UInt(position) + UInt(done), done)
                    if result > 0 {
                        done += result
                        continue
                    }
                } catch {
                    failure = error
                }
                return .failure(
                    SectionError(
                        .outOfRange(commit: (try? usableLength()).map { $0 + offset }),
                        "the range is no longer inside section '\(section)': another process truncated it",
                        section: section, cause: failure))
            }
            return .success(())
        }
        try outcome.get()
    }

    /// Moves the mapping to `target` (nil: an address the kernel picks) without copying: mremap.
    func move(from expected: UInt, to target: UInt?) throws(SectionError) -> UInt {
        let outcome: Result<UInt, SectionError> = address.withLock { base in
            guard let mapped = base else {
                return .failure(
                    SectionError(.viewNotFound, "view \(id) of section '\(section)' is unmapped", section: section))
            }
            guard mapped == expected else {
                return .failure(
                    SectionError(
                        .addressInUse,
                        "view \(id) is at 0x\(String(mapped, radix: 16)), not 0x\(String(expected, radix: 16))",
                        section: section))
            }
            // Claim the destination first: MREMAP_FIXED would silently replace whatever lives there.
            let destination: UInt
            do throws(SystemCallError) {
                destination = try Memory.claim(at: target, length: Int(length))
            } catch {
                return .failure(
                    SectionError(
                        error.errno == .fileExists ? .addressInUse : .invalidArgument,
                        error.errno == .fileExists
                            ? "the address range at 0x\(String(target ?? 0, radix: 16)) is in use"
                            : "cannot move view \(id) there",
                        section: section, cause: error))
            }
            if let target, destination != target {
                Memory.unmap(destination, length: Int(length))
                return .failure(
                    SectionError(
                        .addressInUse, "the kernel refused the address 0x\(String(target, radix: 16))", section: section
                    ))
            }
            do throws(SystemCallError) {
                try Memory.move(mapped, length: Int(length), to: destination)
            } catch {
                Memory.unmap(destination, length: Int(length))
                return .failure(SectionError(error, section: section, doing: "move a view of"))
            }
            base = destination
            return .success(destination)
        }
        return try outcome.get()
    }
}

/// The server's views, by id, within a budget of address space.
final class ViewTable: Sendable {
    /// Views map whole reserves by default, and a reserve may be nearly 2^63 bytes: without a bound, a
    /// few views take the process's 128 TiB of address space (or its 65530 map entries), and the next
    /// large allocation anywhere in the server fails, which is fatal. Together the views may take at
    /// most this many mappings and bytes of address space; past it, mapping a view is refused
    /// (`.insufficientSpace`).
    static let maximumCount = 4096
    static let maximumBytes: Int64 = 32 << 40

    private let views = Mutex<[String: MappedView]>([:])
    private let counter = AtomicCounter()
    /// Mappings and bytes held by views, and by views being mapped (claimed first).
    private let usage = Mutex<(count: Int, bytes: Int64)>((0, 0))

    func nextID() -> String { "v\(counter.next())" }

    /// Claims room for a view of `length` bytes; false when the budget has none.
    func claim(_ length: Int64) -> Bool {
        usage.withLock { usage in
            guard usage.count < Self.maximumCount, length <= Self.maximumBytes - usage.bytes else { return false }
            usage = (usage.count + 1, usage.bytes + length)
            return true
        }
    }

    /// Gives back what `claim` took (the view was unmapped, or never mapped).
    func release(_ length: Int64) {
        usage.withLock { usage in usage = (usage.count - 1, usage.bytes - length) }
    }

    /// Adds a view whose room was claimed.
    func add(_ view: MappedView) { views.withLock { $0[view.id] = view } }

    func view(_ id: String, of section: String) throws(SectionError) -> MappedView {
        guard let view = views.withLock({ $0[id] }), view.section == section else {
            throw SectionError(.viewNotFound, "section '\(section)' has no view '\(id)'", section: section)
        }
        return view
    }

    /// Forgets a view and unmaps it, giving its room back.
    func remove(_ id: String) -> MappedView? {
        let removed = views.withLock { $0.removeValue(forKey: id) }
        if let removed {
            _ = removed.unmap()
            release(removed.length)
        }
        return removed
    }

    func views(of section: String) -> [MappedView] {
        views.withLock { table in table.values.filter { $0.section == section } }.sorted {
            $0.id.count == $1.id.count ? $0.id < $1.id : $0.id.count < $1.id.count
        }
    }

    func counts() -> [String: Int] {
        views.withLock { table in table.values.reduce(into: [:]) { $0[$1.section, default: 0] += 1 } }
    }

    /// Unmaps and forgets every view of a section (it is being deleted).
    func removeAll(of section: String) -> [String] {
        let removed = views.withLock { table in
            let matching = table.values.filter { $0.section == section }
            for view in matching { table[view.id] = nil }
            return matching
        }
        for view in removed {
            _ = view.unmap()
            release(view.length)
        }
        return removed.map(\.id)
    }
}
