import ShmAdmin
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The columns of a section (API.md "A section in JSON"), for `ls` and every command that prints
/// sections (create, grow, reset, adopt).
enum SectionColumns {
    static let shape = TableShape(
        columns: [
            .member(
                "NAME", "name", .text, "section name (escaped: \\xNN for spaces, quotes, control and non-ASCII bytes)"),
            .member("KIND", "kind", .text, "shm or semaphore"),
            Column("OWNER", .text, "owner's user name (uid when it has none)") { .text(userName($0[Keys.uid].int)) },
            Column("PERMS", .text, "permissions, as ls -l shows them") { .text(permissions($0[Keys.mode].string)) },
            .member("SIZE", "commit", .bytes, "the commit: the object's size"),
            .member("ALLOC", "allocatedBytes", .bytes, "memory the object holds"),
            .member("DATA", "dataBytes", .bytes, "bytes in pages that hold written data"),
            .member("MAPPERS", "mappers", .number, "processes other than shm-admin that map it"),
            Column("ORPHAN", .text, "yes when no other process maps it or holds it open") { yesNo($0[Keys.orphan]) },
            Column("AGE", .text, "time since it was created") { .text(age(since: $0[Keys.createdAt].seconds)) },
            .member("RESERVE", "reserve", .bytes, "the most a managed section may grow to (- when foreign)"),
            Column("MANAGED", .text, "yes when created or adopted through shm-admin") { yesNo($0[Keys.managed]) },
            .member("NAMESPACE", "namespace", .text, "local (0600) or global (0666)"),
            .member("STATE", "state", .text, "ok, or missing for a managed section whose object vanished"),
            .member("MODE", "mode", .text, "permission bits in octal"),
            .member("UID", "uid", .number, "owner's user id"),
            .member("GID", "gid", .number, "group id"),
            .member("VIEWS", "views", .number, "shm-admin's own views of it"),
            .member("CREATED", "createdAt", .text, "creation time (UTC)"),
            .member("MODIFIED", "modifiedAt", .text, "last modification time (UTC)"),
            .member("PATH", "path", .text, "the object's path"),
            .member("MOUNT", "mount", .text, "the shared-memory mount it lives on (MAJ:MIN)"),
            .member("UNBACKED", "unbackedBytes", .bytes, "bytes of its size that hold no memory (holes)"),
            Column("LABELS", .text, "labels, KEY=VALUE,…") { row in
                .text(
                    row[Keys.labels].members.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.string ?? "")" }
                        .joined(separator: ","))
            },
        ],
        defaults: ["NAME", "KIND", "OWNER", "PERMS", "SIZE", "ALLOC", "DATA", "MAPPERS", "ORPHAN", "AGE"])

    /// The members the computed columns read, resolved once.
    private enum Keys {
        static let uid: MemberKey = "uid"
        static let mode: MemberKey = "mode"
        static let orphan: MemberKey = "orphan"
        static let createdAt: MemberKey = "createdAt"
        static let managed: MemberKey = "managed"
        static let labels: MemberKey = "labels"
    }

    static func yesNo(_ value: Document) -> Cell { .text(value.bool.map { $0 ? "yes" : "no" } ?? "-") }

    /// Names already looked up: a listing asks for the same few owners thousands of times, and each
    /// getpwuid_r reads the password database.
    private static let userNames = Mutex<[Int64: String]>([:])

    static func userName(_ uid: Int64?) -> String {
        guard let uid else { return "-" }
        if let known = userNames.withLock({ $0[uid] }) { return known }
        let name = lookUpUserName(uid)
        userNames.withLock { $0[uid] = name }
        return name
    }

    private static func lookUpUserName(_ uid: Int64) -> String {
        guard let id = uid_t(exactly: uid) else { return "-" }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(id, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name
        else {
            return String(uid)
        }
        return String(cString: name)
    }

    /// `0640` → `rw-r-----`, with setuid, setgid and sticky bits as `ls -l` marks them.
    static func permissions(_ octal: String?) -> String {
        guard let octal, let mode = UInt32(octal, radix: 8) else { return "-" }
        var text: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &text) { text in
            let letters: StaticString = "rwxrwxrwx"
            for index in 0..<9 {
                text[index] = mode & (0o400 >> UInt32(index)) == 0 ? UInt8(ascii: "-") : letters.utf8Start[index]
            }
            // setuid, setgid, sticky: over an x as s/t, over a - as S/T
            func special(_ bit: UInt32, _ index: Int, _ set: Unicode.Scalar, _ unset: Unicode.Scalar) {
                guard mode & bit != 0 else { return }
                text[index] = text[index] == UInt8(ascii: "x") ? UInt8(ascii: set) : UInt8(ascii: unset)
            }
            special(0o4000, 2, "s", "S")
            special(0o2000, 5, "s", "S")
            special(0o1000, 8, "t", "T")
            return String(decoding: text, as: UTF8.self)
        }
    }

    /// Time since `then` (seconds since the epoch), in the largest whole unit: `42s`, `5m`, `3h`, `12d`.
    /// SHM_ADMIN_NOW (seconds since the epoch) fixes "now", for tests.
    static func age(since then: Double?) -> String {
        guard let then, then.isFinite, abs(then) < 1e15 else { return "-" }
        return duration(max(0, now - Int64(then.rounded(.down))))
    }

    /// Seconds in the largest whole unit: `42s`, `5m`, `3h`, `12d`.
    static func duration(_ seconds: Int64) -> String {
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<(120 * 60): return "\(seconds / 60)m"
        case ..<(48 * 3600): return "\(seconds / 3600)h"
        default: return "\(seconds / 86_400)d"
        }
    }

    /// "Now" for AGE, read once per run.
    static let now = getenv("SHM_ADMIN_NOW").flatMap { Int64(String(cString: $0)) } ?? Int64(Glibc.time(nil))
}
