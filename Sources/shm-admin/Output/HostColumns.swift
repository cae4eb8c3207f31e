/// The listings of the whole host (API-HOST.md), in the one table model: `ls --all` over the
/// inventory's objects, `mounts` over the mounts, `doctor` over the findings.
enum InventoryColumns {
    /// A section's columns, SIZE being the object's `size` (System V, memfd and unlinked objects have
    /// no commit), and the members only the inventory has.
    static let shape = TableShape(
        columns: SectionColumns.shape.columns.map { column in
            switch column.name {
            case "SIZE": .member("SIZE", "size", .bytes, "the object's size")
            case "KIND": .member("KIND", "kind", .text, "shm, semaphore, sysv, memfd or unlinked")
            case "NAME": .member("NAME", "name", .text, "name (a System V segment's key; escaped as for ls)")
            default: column
            }
        } + [
            Column("CONTAINER", .text, "the container of its mount or of the processes keeping it (- when none)") {
                .text(container($0["container"]))
            },
            .member("HOLDERS", "holders", .number, "processes other than shm-admin holding a descriptor of it"),
            .member("HREF", "href", .text, "its detail URL: show takes it"),
            .member("KEY", "key", .number, "System V key"),
            .member("SHMID", "shmid", .number, "System V segment id"),
            .member("IPC", "ipc", .number, "System V IPC namespace (inode)"),
            .member("NATTCH", "nattch", .number, "System V attach count"),
        ],
        defaults: SectionColumns.shape.defaults + ["MOUNT", "CONTAINER", "UNBACKED"])

    /// `runtime:id` (a 64-hex id cut to 12, as docker ps does), `-` for none.
    static func container(_ value: Document) -> String {
        guard let runtime = value["runtime"].string, runtime != "none" else { return "-" }
        guard let id = value["id"].string, !id.isEmpty else { return runtime }
        let short = id.count == 64 && id.utf8.allSatisfy { Hex.isDigit($0) } ? String(id.prefix(12)) : id
        return runtime + ":" + short
    }
}

enum MountColumns {
    static let shape = TableShape(
        columns: [
            .member("ID", "id", .text, "the mount's device, MAJ:MIN"),
            .member("PATH", "path", .text, "where its processes see it"),
            .member("SIZE", "sizeBytes", .bytes, "the tmpfs's size"),
            .member("USED", "usedBytes", .bytes, "bytes in use"),
            .member("FREE", "freeBytes", .bytes, "bytes free"),
            Column("USE%", .number, "used, in percent of the size") { row in
                guard let used = row["usedBytes"].int, let size = row["sizeBytes"].int, size > 0 else {
                    return .number(nil)
                }
                return .number((used * 100 + size - 1) / size)
            },
            .member("EXPOSURE", "exposureBytes", .bytes, "bytes of its objects with no memory behind them"),
            Column("EXPOSED", .text, "yes when the exposure exceeds the free bytes (writers may die of SIGBUS)") {
                SectionColumns.yesNo($0["exposed"])
            },
            Column("CONTAINER", .text, "the container of the processes that see it (- when none)") {
                .text(InventoryColumns.container($0["container"]))
            },
            Column("HOST", .text, "yes for shm-admin's own shared-memory directory") {
                SectionColumns.yesNo($0["host"])
            },
            .member("OBJECTS", "objects", .number, "objects in it"),
            .member("PROCESSES", "processes", .number, "processes that see it"),
            Column("PIDS", .text, "up to 16 of those processes") { row in
                .text(row["pids"].array.compactMap { $0.int.map(String.init) }.joined(separator: ","))
            },
            .member("INODES", "inodes", .number, "inodes of the tmpfs"),
            .member("IFREE", "inodesFree", .number, "inodes free"),
            Column("MEMMAX", .bytes, "the container cgroup's memory.max (- when unlimited)") {
                .bytes($0["container"]["memoryMax"].int)
            },
        ],
        defaults: ["ID", "PATH", "SIZE", "USED", "FREE", "USE%", "EXPOSURE", "EXPOSED", "CONTAINER"])
}

enum DoctorColumns {
    static let shape = TableShape(
        columns: [
            .member("SEVERITY", "severity", .text, "critical, warning or info"),
            .member("ID", "id", .text, "the check that found it"),
            .member("TITLE", "title", .prose, "what is wrong"),
            .member("FIX", "fix", .prose, "what to do about it"),
            .member("DETAIL", "detail", .prose, "the numbers behind it"),
            Column("SUBJECTS", .text, "the mounts and objects it is about (hrefs)") { row in
                .text(row["subjects"].array.compactMap(\.string).joined(separator: ","))
            },
        ],
        defaults: ["SEVERITY", "ID", "TITLE", "FIX"])
}

enum Hex {
    static func isDigit(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (97...102).contains(byte) || (65...70).contains(byte)
    }
}

enum ReclaimColumns {
    static let shape = TableShape(
        columns: [
            .member("NAME", "name", .text, "the object's name (a System V segment's key)"),
            .member("KIND", "kind", .text, "shm or sysv"),
            .member("MOUNT", "mount", .text, "its mount (MAJ:MIN)"),
            .member("SIZE", "bytes", .bytes, "memory it holds"),
            Column("IDLE", .text, "time since its last change") { row in
                .text(row["idleSeconds"].int.map { SectionColumns.duration($0) } ?? "-")
            },
            .member("QUARANTINE", "quarantine", .text, "its quarantine id, once reclaimed (- when deleted)"),
            .member("HREF", "href", .text, "its detail URL before it was reclaimed"),
        ],
        defaults: ["NAME", "KIND", "MOUNT", "SIZE", "IDLE"])
}

enum QuarantineColumns {
    static let shape = TableShape(
        columns: [
            .member("ID", "id", .text, "the id quarantine restore and purge take"),
            .member("NAME", "name", .text, "the name it had (and gets back)"),
            .member("MOUNT", "mount", .text, "its mount (MAJ:MIN)"),
            .member("KIND", "kind", .text, "shm"),
            .member("SIZE", "bytes", .bytes, "memory it holds"),
            .member("QUARANTINED", "quarantinedAt", .text, "when reclaim moved it (UTC)"),
            .member("PURGE", "purgeAt", .text, "when it will be purged (UTC)"),
        ],
        defaults: ["ID", "NAME", "MOUNT", "SIZE", "QUARANTINED", "PURGE"])
}
