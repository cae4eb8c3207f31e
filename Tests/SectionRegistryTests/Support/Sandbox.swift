import Foundation
import Testing

@testable import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// One test's corner of the real shared-memory directory: a unique name prefix and a private
/// state directory. `close()` (also run by deinit) unlinks every object whose name contains the
/// prefix — `NAME`, `sem.NAME`, `.shm-admin-tmp-…-NAME` — and removes the state directories,
/// so a failing test leaves nothing behind. Use it as `let box = try Sandbox(); defer { box.close() }`.
final class Sandbox: @unchecked Sendable {
    static let shm = "/dev/shm"

    /// `t-reg-<pid>-<random>-`: unique per test and per run.
    let prefix: String
    private let root: String
    private var registries: [SectionRegistry] = []
    private var closed = false
    private var stateCount = 0

    init() throws {
        _ = Self.sweptOnce
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        prefix = "t-reg-\(getpid())-\(token)-"
        root = "/tmp/\(prefix)state"
        guard mkdir(root, 0o700) == 0 else { throw SandboxError("mkdir \(root): errno \(errno)") }
    }

    deinit { close() }

    /// What an earlier run that died (SIGKILL, a crash) left behind: objects and state directories
    /// whose prefix names a process that is gone. Runs once per test process.
    private static let sweptOnce: Void = {
        for (directory, isState) in [(shm, false), ("/tmp", true)] {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                guard let range = entry.range(of: "t-reg-") else { continue }
                let pidText = entry[range.upperBound...].prefix { $0.isNumber }
                guard let pid = Int32(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
                let path = directory + "/" + entry
                if isState { try? FileManager.default.removeItem(atPath: path) } else { unlink(path) }
            }
        }
    }()

    /// A name inside the sandbox.
    func name(_ suffix: String) -> String { prefix + suffix }

    func sectionName(_ suffix: String) throws -> SectionName { try SectionName(prefix + suffix) }

    func path(_ suffix: String) -> String { Self.shm + "/" + prefix + suffix }

    /// A fresh state directory of this sandbox (not yet created: the registry makes it).
    func newStateDirectory() -> String {
        stateCount += 1
        return root + "/state\(stateCount)"
    }

    /// A registry over the real /dev/shm with its own state directory (or `stateDirectory`).
    func registry(
        stateDirectory: String? = nil, scanMaximumAge: Double = 0.05, watch: Bool = false,
        recordSync: RecordSync = .auto
    ) throws -> SectionRegistry {
        let configuration = SectionRegistry.Configuration(
            stateDirectory: stateDirectory ?? newStateDirectory(), scanMaximumAge: scanMaximumAge,
            watchDirectory: watch, recordSync: recordSync)
        let made = try SectionRegistry(configuration: configuration)
        registries.append(made)
        return made
    }

    /// Entries of /dev/shm that belong to this sandbox.
    func leftovers() -> [String] {
        let core = String(prefix.dropLast())
        return ((try? FileManager.default.contentsOfDirectory(atPath: Self.shm)) ?? []).filter { $0.contains(core) }
    }

    func close() {
        guard !closed else { return }
        closed = true
        for registry in registries { registry.close() }
        registries.removeAll()
        for name in leftovers() { unlink(Self.shm + "/" + name) }
        try? FileManager.default.removeItem(atPath: root)
    }
}

struct SandboxError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Facts read straight from the kernel, not through the registry

/// stat(2) of a path; nil when it does not exist.
func fileStatus(_ path: String) -> stat? {
    var info = stat()
    return stat(path, &info) == 0 ? info : nil
}

func fileExists(_ path: String) -> Bool { fileStatus(path) != nil }

/// statvfs(3) of /dev/shm: (total, free) bytes.
func shmCapacity() -> (total: Int64, free: Int64) {
    var info = statvfs()
    guard statvfs(Sandbox.shm, &info) == 0 else { return (0, 0) }
    return (Int64(info.f_blocks) * Int64(info.f_frsize), Int64(info.f_bavail) * Int64(info.f_frsize))
}

/// Reads a file's bytes with pread, outside the registry.
func readFile(_ path: String, offset: Int, count: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { Glibc.close(fd) }
    var bytes = [UInt8](repeating: 0, count: count)
    let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
    return got == count ? bytes : nil
}

/// Makes a plain file in /dev/shm (a foreign object or a fake semaphore) of `size` bytes.
func makeFile(_ path: String, size: Int, mode: mode_t = 0o600) throws {
    let fd = open(path, O_RDWR | O_CREAT | O_EXCL, mode)
    guard fd >= 0 else { throw SandboxError("open \(path): errno \(errno)") }
    defer { Glibc.close(fd) }
    guard ftruncate(fd, off_t(size)) == 0 else { throw SandboxError("ftruncate \(path): errno \(errno)") }
}

/// Ranges of this process's mappings from /proc/self/maps.
func ownMappings() -> [(start: UInt, end: UInt, line: String)] {
    guard let bytes = readSmallFile("/proc/self/maps") else { return [] }
    return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
        let range = line.prefix { $0 != " " }.split(separator: "-")
        guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16) else {
            return nil
        }
        return (start, end, String(line))
    }
}

func isMapped(_ address: UInt) -> Bool { ownMappings().contains { $0.start <= address && address < $0.end } }

/// Whether `address` lies in a mapping of the object `path`. Tests run in parallel in this process:
/// once a view is unmapped, another test may map something else at the same address.
func isMapped(_ address: UInt, to path: String) -> Bool {
    ownMappings().contains { mapping in
        mapping.start <= address && address < mapping.end
            && (mapping.line.hasSuffix(" " + path) || mapping.line.hasSuffix(" " + path + " (deleted)"))
    }
}

// MARK: - Assertions and waits

/// Expects `body` to throw a `SectionError` with `code`; returns the error for further checks.
@discardableResult
func expectError<T>(
    _ kind: SectionError.Kind, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T
) -> SectionError? {
    do {
        let value = try body()
        Issue.record("expected SectionError .\(kind), got \(value)", sourceLocation: sourceLocation)
    } catch let error as SectionError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected SectionError .\(kind), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Polls `condition` every 10 ms until it holds or `timeout` seconds pass; returns whether it held.
func eventually(timeout: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if try condition() { return true }
        usleep(10_000)
    } while Date() < deadline
    return try condition()
}

/// Runs `body(i)` for i in 0..<count on `count` real threads at once; waits at most `timeout`.
func onThreads(_ count: Int, timeout: Double = 60, _ body: @escaping @Sendable (Int) -> Void) throws {
    let done = DispatchSemaphore(value: 0)
    let start = DispatchSemaphore(value: 0)
    for index in 0..<count {
        let thread = Thread {
            start.wait()
            body(index)
            done.signal()
        }
        thread.start()
    }
    for _ in 0..<count { start.signal() }
    for _ in 0..<count where done.wait(timeout: .now() + timeout) == .timedOut {
        throw SandboxError("threads did not finish within \(timeout) s")
    }
}

extension Array where Element == UInt8 {
    init(_ text: String) { self = Array(text.utf8) }
}

extension SectionRegistry {
    /// Writes a string's bytes through the core.
    @discardableResult
    func write(named name: SectionName, offset: Int64, _ bytes: [UInt8], partial: Bool = false) throws -> WriteResult {
        try bytes.withUnsafeBytes { buffer in try write(named: name, offset: offset, bytes: buffer, partial: partial) }
    }

    @discardableResult
    func writeView(named name: SectionName, id: String, offset: Int64, _ bytes: [UInt8], partial: Bool = false) throws
        -> WriteResult
    {
        try bytes.withUnsafeBytes { buffer in
            try writeView(named: name, id: id, offset: offset, bytes: buffer, partial: partial)
        }
    }

    /// A section with reserve and commit in bytes.
    @discardableResult
    func make(_ name: SectionName, reserve: Int64, commit: Int64? = nil, namespace: Namespace = .local) throws
        -> SectionInfo
    {
        try create(CreateRequest(name: name, reserve: reserve, commit: commit, namespace: namespace)).section
    }
}

let KiB: Int64 = 1 << 10
let MiB: Int64 = 1 << 20
let GiB: Int64 = 1 << 30
let page = systemPageSize

extension SectionError {
    /// The payloads the tests look at, read from the code.
    var commit: Int64? {
        switch code {
        case .shrinkRefused(let commit): commit
        case .outOfRange(let commit): commit
        default: nil
        }
    }

    var pids: [Int32] {
        switch code {
        case .mappedByOthers(let pids): pids
        case .lockTimeout(let holders): holders.compactMap(\.pid)
        default: []
        }
    }

    var errno: Int32? { cause?.errno.rawValue }
    var systemCall: String? { cause?.call }
}
