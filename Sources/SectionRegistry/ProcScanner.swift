import CShmLinux
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// What /proc says about the objects of one shared-memory directory: who maps them, who holds
/// them open, who locks them. Keyed by inode (the device is the directory's).
public struct ProcSnapshot: Sendable {
    /// When the scan began (monotonic seconds): a change made after it may be missing.
    public var takenAt: Double = -.infinity
    /// Other processes' mappings.
    public var mappers: [UInt64: [Mapper]] = [:]
    /// Every process holding an object open, this one included.
    public var holders: [UInt64: [Holder]] = [:]
    public var locks: [UInt64: [LockHolder]] = [:]

    public init() {}
}

/// Where the registry learns who maps, holds and locks the objects of its directory: by default
/// its own walk of /proc (`ProcScanner`); a server that already walks the whole host hands that
/// pass in instead (`Configuration.processView`), so a host is walked once, not once per question.
public protocol ProcessView: Sendable {
    /// A view at most the configured age old (mappers exclude this process; holders include it).
    func snapshot() -> ProcSnapshot
    /// Forgets the cached view: the next `snapshot()` starts a pass after this call.
    func invalidate()
    /// `snapshot()` if it needs no pass now; nil if it would wait for one.
    func cachedSnapshot() -> ProcSnapshot?
}

extension ProcessView {
    public func cachedSnapshot() -> ProcSnapshot? { nil }
}

/// Scans /proc at most once a second and never under the registry's lock. Entries it may not
/// read (other users' processes, processes that exit mid-scan) are skipped quietly.
final class ProcScanner: ProcessView {
    let maximumAge: Double
    var ownPid: Int32 { walk.ownPid }
    private let walk: ProcWalk
    private let shared: SharedSnapshot<ProcSnapshot>
    /// The fresh maps passes of `currentMappers(of:)`, shared by the callers that wait together.
    let freshMappers = SharedPass<[UInt64: [Mapper]]>()

    init(procRoot: String = "/proc", device: UInt64, maximumAge: Double = 1.0) {
        let walk = ProcWalk(procRoot: procRoot, device: device, ownPid: getpid())
        self.walk = walk
        self.maximumAge = maximumAge
        shared = SharedSnapshot(empty: ProcSnapshot()) { walk.scan() }
    }

    /// A snapshot at most `maximumAge` seconds old. Past half that age a refresh starts in the
    /// background, so a steady stream of callers never waits for a scan; only the first caller
    /// after a quiet spell does (and callers arriving during that scan wait for it).
    func snapshot() -> ProcSnapshot { shared.value(maximumAge: maximumAge, refreshingAhead: true) }

    func cachedSnapshot() -> ProcSnapshot? { shared.cached(maximumAge: maximumAge, refreshingAhead: true) }

    /// Other processes mapping `inode` right now, for decisions that must not rest on a cached
    /// view (refusing a delete): from a pass over /proc/*/maps that started after this call.
    /// Callers arriving together share one pass (`SharedPass`), so 32 concurrent deletes cost
    /// one or two passes, not 32 in a row.
    func currentMappers(of inode: UInt64) -> [Mapper] {
        freshMappers.value { walk.scanMappers() }[inode] ?? []
    }

    /// Forgets the cached snapshot, so the next call rescans (after this process maps or unmaps).
    /// A scan already running began before the change, so it is not installed when it ends.
    func invalidate() { shared.invalidate() }

}

/// One walk over /proc for the objects of one device (`ProcScanner` shares its result).
private struct ProcWalk: Sendable {
    let procRoot: String
    let device: UInt64
    let ownPid: Int32

    /// Every other process's mappings of objects on our device, from one pass over /proc/*/maps
    /// (not fd/, not locks: delete needs only mappers). The kernel writes a maps file line by
    /// line for the read, which is most of the cost; what is left is kept small: one buffer for
    /// the whole pass, a memmem for the device, and only files that name the device are parsed
    /// and have their comm read.
    func scanMappers() -> [UInt64: [Mapper]] {
        let deviceText = ProcScanner.deviceText(device)
        let reader = WholeFileReader()
        var found: [UInt64: [Mapper]] = [:]
        for pid in processIDs() where pid != ownPid {
            guard let maps = reader.read(procRoot + "/\(pid)/maps") else { continue }
            let lines = ProcScanner.parseMaps(maps, deviceText: deviceText)
            guard !lines.isEmpty else { continue }
            let command = self.command(of: pid)
            for line in lines {
                found[line.inode, default: []].append(
                    Mapper(
                        pid: pid, command: command, start: line.start, end: line.end, offset: line.offset,
                        access: line.writable ? .rw : .ro))
            }
        }
        return found
    }

    func command(of pid: Int32) -> String {
        readSmallFile(procRoot + "/\(pid)/comm", limit: 256).map {
            String(decoding: $0, as: UTF8.self).trimmingSuffix("\n")
        } ?? ""
    }

    func scan() -> ProcSnapshot {
        var result = ProcSnapshot()
        let started = monotonicNow()
        let deviceText = ProcScanner.deviceText(device)
        let reader = WholeFileReader()
        // /proc/locks may wait for an RCU grace period (see `HostPass.run`): read beside the walk.
        let locksPath = procRoot + "/locks"
        let locksText = InBackground { readSmallFile(locksPath) }
        for pid in processIDs() {
            let base = procRoot + "/\(pid)"
            var command: String?
            func commandName() -> String {
                if let command { return command }
                let text = readSmallFile(base + "/comm", limit: 256).map { String(decoding: $0, as: UTF8.self) } ?? ""
                command = text.hasSuffix("\n") ? String(text.dropLast()) : text
                return command!
            }
            if pid != ownPid, let maps = reader.read(base + "/maps") {
                for mapping in ProcScanner.parseMaps(maps, deviceText: deviceText) {
                    result.mappers[mapping.inode, default: []].append(
                        Mapper(
                            pid: pid, command: commandName(), start: mapping.start, end: mapping.end,
                            offset: mapping.offset, access: mapping.writable ? .rw : .ro))
                }
            }
            for (fd, inode) in openObjects(base + "/fd") {
                result.holders[inode, default: []].append(Holder(pid: pid, command: commandName(), fd: fd))
            }
        }
        if let text = locksText.value() {
            result.locks = attributeLocks(ProcScanner.parseLocks(text, deviceText: deviceText), holders: result.holders)
        }
        result.takenAt = started
        return result
    }

    func processIDs() -> [Int32] {
        ((try? directoryEntries(procRoot)) ?? []).compactMap { Int32($0.name) }
    }

    /// The process's descriptors that refer to objects on our device: (fd, inode).
    func openObjects(_ fdDirectory: String) -> [(Int32, UInt64)] {
        var found: [(Int32, UInt64)] = []
        for (name, _) in (try? directoryEntries(fdDirectory)) ?? [] {
            guard let fd = Int32(name), let info = try? fileStatus(fdDirectory + "/" + name) else { continue }
            if UInt64(info.st_dev) == device, (info.st_mode & S_IFMT) == S_IFREG {
                found.append((fd, UInt64(info.st_ino)))
            }
        }
        return found
    }

    /// OFD locks show pid -1 in /proc/locks: find the holder through /proc/PID/fdinfo.
    func attributeLocks(_ parsed: [(UInt64, LockHolder)], holders: [UInt64: [Holder]]) -> [UInt64: [LockHolder]] {
        var result: [UInt64: [LockHolder]] = [:]
        var byInode: [UInt64: [LockHolder]] = [:]
        for (inode, lock) in parsed { byInode[inode, default: []].append(lock) }
        let deviceText = ProcScanner.deviceText(device)
        for (inode, locks) in byInode {
            var unattributed = locks.filter { $0.pid == nil }
            var attributed = locks.filter { $0.pid != nil }
            if !unattributed.isEmpty {
                for holder in holders[inode] ?? [] where !unattributed.isEmpty {
                    guard let info = readSmallFile(procRoot + "/\(holder.pid)/fdinfo/\(holder.fd)", limit: 65536) else {
                        continue
                    }
                    let lines = String(decoding: info, as: UTF8.self).split(separator: "\n")
                    for line in lines where line.hasPrefix("lock:") {
                        let fields = line.dropFirst(5)
                        for (_, lock) in ProcScanner.parseLocks(Array(fields.utf8) + [10], deviceText: deviceText)
                        where lock.pid == nil {
                            if let index = unattributed.firstIndex(where: {
                                $0.mode == lock.mode && $0.type == lock.type
                            }) {
                                var owned = unattributed.remove(at: index)
                                owned.pid = holder.pid
                                attributed.append(owned)
                            }
                        }
                    }
                }
            }
            result[inode] = attributed + unattributed
        }
        return result
    }

}

extension ProcScanner {
    /// "maj:min" as /proc prints it (two lowercase hex digits at least).
    static func deviceText(_ device: UInt64) -> String {
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        func hex2(_ value: UInt64) -> String {
            let text = String(value, radix: 16)
            return text.count < 2 ? "0" + text : text
        }
        return hex2(major) + ":" + hex2(minor)
    }

    struct MapsLine {
        var start: UInt64
        var end: UInt64
        var writable: Bool
        var offset: Int64
        var inode: UInt64
    }

    /// Lines of /proc/PID/maps whose device is ours. Most processes map nothing of ours: one
    /// memmem over the whole file rules them out before any line is split.
    static func parseMaps(_ bytes: UnsafeRawBufferPointer, deviceText: String) -> [MapsLine] {
        let needle = Array((" " + deviceText + " ").utf8)
        guard let base = bytes.baseAddress, cshm_contains(base, bytes.count, needle, needle.count) != 0 else {
            return []
        }
        return parseMaps(Array(bytes), deviceText: deviceText)
    }

    /// Lines of /proc/PID/maps whose device is ours.
    static func parseMaps(_ bytes: [UInt8], deviceText: String) -> [MapsLine] {
        var result: [MapsLine] = []
        let needle = Array((" " + deviceText + " ").utf8)
        guard contains(bytes, needle) else { return [] }
        for line in bytes.split(separator: 10) where contains(line, needle) {
            let fields = line.split(separator: 32, maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5, String(decoding: fields[3], as: UTF8.self) == deviceText else { continue }
            let range = fields[0].split(separator: 45)
            guard range.count == 2,
                let start = UInt64(String(decoding: range[0], as: UTF8.self), radix: 16),
                let end = UInt64(String(decoding: range[1], as: UTF8.self), radix: 16),
                let offset = Int64(String(decoding: fields[2], as: UTF8.self), radix: 16),
                let inode = UInt64(String(decoding: fields[4], as: UTF8.self)), inode != 0
            else { continue }
            let writable = fields[1].count > 1 && fields[1][fields[1].startIndex + 1] == 119  // "w"
            result.append(MapsLine(start: start, end: end, writable: writable, offset: offset, inode: inode))
        }
        return result
    }

    /// Whether `needle` occurs in `haystack` (a plain scan: maps files are small).
    static func contains<C: Collection>(_ haystack: C, _ needle: [UInt8]) -> Bool
    where C.Element == UInt8, C.Index == Int {
        guard let first = needle.first, haystack.count >= needle.count else { return false }
        var index = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while index <= last {
            if haystack[index] == first {
                var matched = true
                for offset in 1..<needle.count where haystack[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return true }
            }
            index += 1
        }
        return false
    }

    /// Lines of /proc/locks (or fdinfo `lock:` lines) on our device: (inode, holder). Waiters (`->`) are skipped.
    static func parseLocks(_ bytes: [UInt8], deviceText: String) -> [(UInt64, LockHolder)] {
        var result: [(UInt64, LockHolder)] = []
        for line in bytes.split(separator: 10) {
            let fields = line.split(separator: 32).map { String(decoding: $0, as: UTF8.self) }
            guard fields.count >= 6, fields[1] != "->" else { continue }
            let (type, access, pidText, identity) = (fields[1], fields[3], fields[4], fields[5])
            let parts = identity.split(separator: ":")
            guard parts.count == 3, "\(parts[0]):\(parts[1])" == deviceText, let inode = UInt64(parts[2]) else {
                continue
            }
            let pid = Int32(pidText).flatMap { $0 > 0 ? $0 : nil }
            result.append((inode, LockHolder(pid: pid, mode: access == "WRITE" ? .exclusive : .shared, type: type)))
        }
        return result
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
