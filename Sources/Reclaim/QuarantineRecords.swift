import HostScan
import JSON
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// A quarantine record: which object, where it was, and how far its move got. Written before each
/// step of the protocol, so that a start after a crash knows what to finish or undo.
struct QuarantineRecord: Sendable, Equatable {
    enum Phase: String, Sendable {
        /// Written before the rename into quarantine; the move is not decided yet. A start undoes it.
        case moving
        /// Kept in quarantine (until restored, purged or its TTL).
        case quarantined
        /// Being put back under its name. A start finishes it.
        case restoring
        /// Being purged. A start finishes it.
        case purging
    }

    var id: String
    var name: String
    var mount: DeviceID
    var inode: UInt64
    var kind: String
    var bytes: Int64
    var quarantinedAt: Double
    var purgeAt: Double
    var phase: Phase

    var item: QuarantineItem {
        QuarantineItem(
            id: id, name: name, mount: mount, kind: kind, bytes: bytes, quarantinedAt: quarantinedAt, purgeAt: purgeAt,
            inode: inode)
    }

    func encoded() -> [UInt8] {
        let value: JSONValue = [
            "id": .string(id), "name": .string(name), "mount": .string(mount.description), "inode": .int(Int64(inode)),
            "kind": .string(kind), "bytes": .int(bytes), "quarantinedAt": .double(quarantinedAt),
            "purgeAt": .double(purgeAt), "phase": .string(phase.rawValue),
        ]
        return value.serialized()
    }

    init(
        id: String, name: String, mount: DeviceID, inode: UInt64, kind: String, bytes: Int64, quarantinedAt: Double,
        purgeAt: Double, phase: Phase
    ) {
        self.id = id
        self.name = name
        self.mount = mount
        self.inode = inode
        self.kind = kind
        self.bytes = bytes
        self.quarantinedAt = quarantinedAt
        self.purgeAt = purgeAt
        self.phase = phase
    }

    init?(decoding bytes: [UInt8]) {
        guard case .object(let pairs)? = try? StrictJSON.parse(bytes) else { return nil }
        var table: [String: JSONValue] = [:]
        for (key, value) in pairs { table[key] = value }
        func number(_ key: String) -> Double? {
            switch table[key] {
            case .int(let value)?: Double(value)
            case .double(let value)?: value
            default: nil
            }
        }
        guard case .string(let id)? = table["id"], Quarantine.isValidID(id), case .string(let name)? = table["name"],
            case .string(let mountText)? = table["mount"], let mount = DeviceID(Substring(mountText)),
            case .int(let inode)? = table["inode"], case .string(let kind)? = table["kind"],
            case .int(let size)? = table["bytes"], let quarantinedAt = number("quarantinedAt"),
            let purgeAt = number("purgeAt"), case .string(let phaseText)? = table["phase"],
            let phase = Phase(rawValue: phaseText)
        else { return nil }
        self.init(
            id: id, name: name, mount: mount, inode: UInt64(bitPattern: inode), kind: kind, bytes: size,
            quarantinedAt: quarantinedAt, purgeAt: purgeAt, phase: phase)
    }
}

/// `STATE/quarantine/ID.json`: one file per record, each change a temporary file fsynced and renamed
/// over the old one, then the directory fsynced — so after a crash at any instant the record is the
/// old one or the new one, and once a call returns it is on disk.
struct QuarantineRecordStore: Sendable {
    let path: String

    /// Makes the directory if it can; when it cannot, each save says why.
    init(stateDirectory: String) {
        path = stateDirectory + "/quarantine"
        for directory in [stateDirectory, path] { mkdir(directory, 0o700) }
        for name in Self.names(in: path) where name.hasPrefix(".tmp-") { unlink(path + "/" + name) }
    }

    /// With `syncingDirectory` false the rename is not made durable here: the caller syncs the
    /// directory once for a batch (`syncDirectory`) before it relies on the records.
    func save(_ record: QuarantineRecord, syncingDirectory: Bool = true) throws(QuarantineError) {
        let temporary = path + "/.tmp-" + record.id
        let final = path + "/" + record.id + ".json"
        do throws(SystemCallError) {
            let file = try syscall(.open) { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
            defer { close(file) }
            let bytes = record.encoded()
            var written = 0
            while written < bytes.count {
                let count = try syscall(.write) {
                    bytes.withUnsafeBytes { write(file, $0.baseAddress! + written, $0.count - written) }
                }
                written += count
            }
            try syscall(.fsync) { fsync(file) }
            try syscall(.rename) { rename(temporary, final) }
            if syncingDirectory { try syncDirectory() }
        } catch {
            unlink(temporary)
            throw .failed("cannot write the quarantine record \(final): \(error)")
        }
    }

    func remove(_ id: String, syncingDirectory: Bool = true) throws(QuarantineError) {
        let final = path + "/" + id + ".json"
        do throws(SystemCallError) {
            do throws(SystemCallError) {
                try syscall(.unlink) { unlink(final) }
            } catch  where error.errno.rawValue == ENOENT {}
            if syncingDirectory { try syncDirectory() }
        } catch {
            throw .failed("cannot remove the quarantine record \(final): \(error)")
        }
    }

    /// Every readable record; unreadable files are left where they are (and named in the log by the caller).
    func loadAll() -> (records: [QuarantineRecord], unreadable: [String]) {
        var records: [QuarantineRecord] = []
        var unreadable: [String] = []
        for name in Self.names(in: path) where name.hasSuffix(".json") && !name.hasPrefix(".") {
            if let bytes = Self.read(path + "/" + name), let record = QuarantineRecord(decoding: bytes),
                record.id + ".json" == name
            {
                records.append(record)
            } else {
                unreadable.append(name)
            }
        }
        return (records, unreadable)
    }

    /// Takes the directory's lock (flock of `.lock`): one process at a time changes the quarantine
    /// (the server, or the command line working locally on the same state directory). Returns the
    /// descriptor to give to `unlock`; -1 when the lock file cannot be opened (then only this
    /// process's own lock serialises).
    func lock() -> Int32 {
        let file = open(path + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard file >= 0 else { return -1 }
        while flock(file, LOCK_EX) != 0 && errno == EINTR {}
        return file
    }

    func unlock(_ file: Int32) {
        if file >= 0 { close(file) }
    }

    /// The directory's modification time in nanoseconds: every record written or removed, by
    /// any process, changes it.
    func stamp() -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }

    /// Makes every rename and unlink in the directory so far durable.
    func syncDirectory() throws(SystemCallError) {
        let directory = try syscall(.open) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(directory) }
        try syscall(.fsync) { fsync(directory) }
    }

    static func names(in directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func read(_ path: String) -> [UInt8]? {
        let file = open(path, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(file, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return bytes
    }
}
