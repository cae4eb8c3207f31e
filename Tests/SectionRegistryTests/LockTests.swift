import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Locks and leases")
struct LockTests {
    /// A managed section and a python peer attached to it.
    final class Fixture {
        let box: Sandbox
        let registry: SectionRegistry
        let name: SectionName
        let peer: PythonPeer

        init() throws {
            box = try Sandbox()
            registry = try box.registry()
            name = try box.sectionName("locked")
            try registry.make(name, reserve: 2 * page)
            peer = try PythonPeer()
            try peer.run("attach \(name)")
        }

        func close() {
            peer.stop()
            box.close()
        }
    }

    @Test("an exclusive lease keeps python's fcntl.lockf out until released")
    func exclusiveLeaseBlocksPython() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let (registry, name, peer) = (fixture.registry, fixture.name, fixture.peer)
        let lease = try registry.acquireLease(named: name, mode: .exclusive, timeout: 1, ttl: 60)
        #expect(lease.section == name.value)
        #expect(lease.mode == .exclusive)
        #expect(lease.expiresAt > Date().timeIntervalSince1970 + 50)
        #expect(try peer.run("trylock ex") == "busy")
        #expect(try peer.run("trylock sh") == "busy")
        #expect(try registry.detail(named: name).leases.map(\.id) == [lease.id])
        try registry.releaseLease(named: name, lease: lease.id)
        #expect(try peer.run("trylock ex") == "locked")
        #expect(try registry.detail(named: name).leases.isEmpty)
    }

    @Test("a shared lease lets python share and keeps python's exclusive lock out")
    func sharedLease() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let (registry, name, peer) = (fixture.registry, fixture.name, fixture.peer)
        let lease = try registry.acquireLease(named: name, mode: .shared, timeout: 1, ttl: 60)
        #expect(try peer.run("trylock ex") == "busy")
        #expect(try peer.run("trylock sh") == "locked")
        try peer.run("unlock")
        try registry.releaseLease(named: name, lease: lease.id)
        #expect(try peer.run("trylock ex") == "locked")
    }

    @Test("python's lock makes a lease wait its timeout and fail with .lockTimeout naming python's pid")
    func pythonLockBlocksLease() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let (registry, name, peer) = (fixture.registry, fixture.name, fixture.peer)
        #expect(try peer.run("trylock ex") == "locked")
        let clock = ContinuousClock()
        let started = clock.now
        let error = expectError(.lockTimeout) {
            try registry.acquireLease(named: name, mode: .exclusive, timeout: 0.25, ttl: 60)
        }
        let waited = clock.now - started
        #expect(waited >= .milliseconds(240), "it waited the timeout (\(waited))")
        #expect(waited < .seconds(5))
        #expect(error?.pids == [peer.pid])
        #expect(error?.section == name.value)
        expectError(.lockTimeout) { try registry.acquireLease(named: name, mode: .shared, timeout: 0, ttl: 60) }
        expectError(.lockTimeout) { try registry.withLock(named: name, mode: .shared, timeout: 0.05) { 1 } }
        #expect(try registry.detail(named: name).leases.isEmpty)
        // Once python lets go, the lease is had.
        try peer.run("unlock")
        let lease = try registry.acquireLease(named: name, mode: .exclusive, timeout: 1, ttl: 60)
        try registry.releaseLease(named: name, lease: lease.id)
    }

    @Test("a lease taken while python waits is granted when python unlocks within the timeout")
    func leaseWaitsForRelease() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let (registry, name, peer) = (fixture.registry, fixture.name, fixture.peer)
        #expect(try peer.run("trylock ex") == "locked")
        let outcome = Locked<Result<LeaseInfo, SectionError>?>(nil)
        let thread = Thread {
            let result = Result { () throws(SectionError) in
                try registry.acquireLease(named: name, mode: .exclusive, timeout: 5, ttl: 60)
            }
            outcome.update { $0 = result }
        }
        thread.start()
        usleep(150_000)
        #expect(outcome.value == nil, "still waiting while python holds the lock")
        try peer.run("unlock")
        #expect(eventually(timeout: 5) { outcome.value != nil })
        let lease = try #require(try outcome.value?.get())
        #expect(try peer.run("trylock sh") == "busy")
        try registry.releaseLease(named: name, lease: lease.id)
    }

    @Test("lock holders: python's POSIX lock with its pid, our lease as an OFD lock with ours")
    func lockHolders() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let (registry, name, peer) = (fixture.registry, fixture.name, fixture.peer)
        #expect(try registry.detail(named: name).lockHolders.isEmpty)
        #expect(try peer.run("trylock ex") == "locked")
        let python = LockHolder(pid: peer.pid, mode: .exclusive, type: "POSIX")
        #expect(eventually { (try? registry.detail(named: name).lockHolders) == [python] })
        try peer.run("unlock")
        let lease = try registry.acquireLease(named: name, mode: .shared, timeout: 1, ttl: 60)
        #expect(try peer.run("trylock sh") == "locked")
        let expected: Set<String> = ["\(peer.pid) shared POSIX", "\(getpid()) shared OFDLCK"]
        let holders = {
            Set((try? registry.detail(named: name).lockHolders.map { "\($0.pid ?? -1) \($0.mode) \($0.type)" }) ?? [])
        }
        #expect(eventually { holders() == expected }, "\(holders())")
        try registry.releaseLease(named: name, lease: lease.id)
        try peer.run("unlock")
        #expect(eventually { (try? registry.detail(named: name).lockHolders.isEmpty) == true })
    }

    @Test("a lease ends by itself at its TTL and says so in the change feed")
    func leaseExpires() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let (registry, name, peer) = (fixture.registry, fixture.name, fixture.peer)
        let events = EventLog(registry)
        defer { events.stop() }
        let lease = try registry.acquireLease(named: name, mode: .exclusive, timeout: 1, ttl: 0.2)
        #expect(try peer.run("trylock ex") == "busy")
        #expect(eventually(timeout: 5) { (try? peer.run("trylock ex")) == "locked" }, "the lock went with the TTL")
        #expect(try registry.detail(named: name).leases.isEmpty)
        #expect(
            eventually(timeout: 5) {
                events.contains {
                    $0.kind == .unlocked && $0.details == .unlocked(lease: lease.id, expired: true)
                }
            })
        expectError(.leaseNotFound) { try registry.releaseLease(named: name, lease: lease.id) }
    }

    @Test("leases conflict with each other as processes would")
    func leasesConflict() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("l")
        try registry.make(name, reserve: page)
        let first = try registry.acquireLease(named: name, mode: .exclusive, timeout: 1, ttl: 60)
        let error = expectError(.lockTimeout) {
            try registry.acquireLease(named: name, mode: .exclusive, timeout: 0.05, ttl: 60)
        }
        #expect(error?.pids == [getpid()])
        try registry.releaseLease(named: name, lease: first.id)
        let shared1 = try registry.acquireLease(named: name, mode: .shared, timeout: 1, ttl: 60)
        let shared2 = try registry.acquireLease(named: name, mode: .shared, timeout: 1, ttl: 60)
        #expect(shared1.id != shared2.id)
        expectError(.lockTimeout) { try registry.acquireLease(named: name, mode: .exclusive, timeout: 0.05, ttl: 60) }
        #expect(try registry.detail(named: name).leases.map(\.id).sorted() == [shared1.id, shared2.id].sorted())
        try registry.releaseLease(named: name, lease: shared1.id)
        try registry.releaseLease(named: name, lease: shared2.id)
        let last = try registry.acquireLease(named: name, mode: .exclusive, timeout: 1, ttl: 60)
        try registry.releaseLease(named: name, lease: last.id)
    }

    @Test("releasing an unknown lease, a lease of another section, or twice is .leaseNotFound; a TTL must be positive")
    func leaseRefusals() throws {
        let box = try Sandbox()
        defer { box.close() }
        let registry = try box.registry()
        let name = try box.sectionName("l")
        let other = try box.sectionName("other")
        try registry.make(name, reserve: page)
        try registry.make(other, reserve: page)
        expectError(.leaseNotFound) { try registry.releaseLease(named: name, lease: "l1-nothing") }
        let lease = try registry.acquireLease(named: name, mode: .exclusive, timeout: 1, ttl: 60)
        expectError(.leaseNotFound) { try registry.releaseLease(named: other, lease: lease.id) }
        try registry.releaseLease(named: name, lease: lease.id)
        expectError(.leaseNotFound) { try registry.releaseLease(named: name, lease: lease.id) }
        expectError(.invalidArgument) { try registry.acquireLease(named: name, mode: .shared, timeout: 1, ttl: 0) }
        expectError(.invalidArgument) { try registry.acquireLease(named: name, mode: .shared, timeout: 1, ttl: -1) }
        expectError(.notFound) {
            try registry.acquireLease(named: box.sectionName("nothing"), mode: .shared, timeout: 1, ttl: 1)
        }
    }

    @Test("withLock holds the lock for the body only")
    func withLockScope() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let (registry, name, peer) = (fixture.registry, fixture.name, fixture.peer)
        let inside = try registry.withLock(named: name, mode: .exclusive, timeout: 1) { () throws(SectionError) in
            (try? peer.run("trylock sh")) ?? "error"
        }
        #expect(inside == "busy")
        #expect(try peer.run("trylock ex") == "locked")
        try peer.run("unlock")
        let error = SectionError(.outOfRange(commit: nil), "from the body")
        let thrown = expectError(.outOfRange) {
            try registry.withLock(named: name, mode: .shared, timeout: 1) { () throws(SectionError) in throw error }
        }
        #expect(thrown?.message == "from the body")
        #expect(try peer.run("trylock ex") == "locked", "a throwing body releases the lock too")
    }
}
