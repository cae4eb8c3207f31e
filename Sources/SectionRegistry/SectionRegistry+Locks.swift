#if canImport(Glibc)
    import Glibc
#endif

extension SectionRegistry {
    /// Takes the section's whole-object lock as a lease that ends at `ttl` seconds if nobody
    /// releases it. `.lockTimeout` (with the holders' pids) when not had within `timeout`.
    public func acquireLease(named name: SectionName, mode: LockMode, timeout: Double, ttl: Double) throws(SectionError)
        -> LeaseInfo
    {
        guard ttl > 0 else { throw SectionError(.invalidArgument, "a lease needs a positive TTL", section: name.value) }
        let object = try openLockable(name, mode: mode)
        do throws(SectionError) {
            try LeaseTable.acquire(object, mode: mode, timeout: timeout, section: name.value)
        } catch {
            throw withHolders(error, name)
        }
        let lease = leases.add(section: name.value, mode: mode, ttl: ttl, descriptor: object)
        changes.publish(.locked, name.value, .locked(lease: lease.id, mode: mode))
        return lease
    }

    public func releaseLease(named name: SectionName, lease id: String) throws(SectionError) {
        guard leases.take(id, section: name.value) != nil else {
            throw SectionError(.leaseNotFound, "section '\(name.value)' has no lease '\(id)'", section: name.value)
        }
        changes.publish(.unlocked, name.value, .unlocked(lease: id))
    }

    /// Runs `body` holding the section's lock (shared for reading, exclusive for writing).
    public func withLock<T>(
        named name: SectionName, mode: LockMode, timeout: Double, _ body: () throws(SectionError) -> T
    ) throws(SectionError) -> T {
        let object = try openLockable(name, mode: mode)
        do throws(SectionError) {
            try LeaseTable.acquire(object, mode: mode, timeout: timeout, section: name.value)
        } catch {
            throw withHolders(error, name)
        }
        return try body()  // closing `object` releases the lock
    }

    private func openLockable(_ name: SectionName, mode: LockMode) throws(SectionError) -> OwnedDescriptor {
        // A write lock needs a descriptor open for writing; a read lock one open for reading.
        try openExisting(name, flags: mode == .exclusive ? O_RDWR : O_RDONLY, doing: "lock")
    }

    /// A lock timeout annotated with who holds the lock, and how (the holders' pids and modes).
    func withHolders(_ error: SectionError, _ name: SectionName) -> SectionError {
        guard error.kind == .lockTimeout, let status = try? directory.status(of: name) else { return error }
        processes.invalidate()
        return SectionError(
            .lockTimeout(holders: processes.snapshot().locks[UInt64(status.st_ino)] ?? []), error.message,
            section: error.section, cause: error.cause)
    }
}
