/// /proc/sysvipc/shm: the System V segments of the reading thread's IPC namespace.
enum SysVTable {
    /// Its rows, by the header's column names (the kernel has added columns over time).
    static func parse(_ text: String, ipc: UInt64) -> [SysVSegment] {
        var lines = text.split(separator: "\n")
        guard !lines.isEmpty else { return [] }
        let header = lines.removeFirst().split(separator: " ").map(String.init)
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        guard let keyColumn = column("key"), let idColumn = column("shmid"), let sizeColumn = column("size") else {
            return []
        }
        return lines.compactMap { line in
            let fields = line.split(separator: " ")
            func number(_ name: String) -> Int64 {
                guard let index = column(name), index < fields.count else { return 0 }
                return Int64(fields[index]) ?? 0
            }
            guard fields.count > max(keyColumn, idColumn, sizeColumn), let key = Int64(fields[keyColumn]),
                let shmid = Int32(fields[idColumn])
            else { return nil }
            let mode = column("perms").flatMap { $0 < fields.count ? UInt32(fields[$0], radix: 8) : nil } ?? 0
            return SysVSegment(
                ipc: ipc, key: Int32(truncatingIfNeeded: key), shmid: shmid, mode: mode, size: number("size"),
                cpid: Int32(clamping: number("cpid")), lpid: Int32(clamping: number("lpid")),
                nattch: number("nattch"), uid: UInt32(clamping: number("uid")), gid: UInt32(clamping: number("gid")),
                cuid: UInt32(clamping: number("cuid")), cgid: UInt32(clamping: number("cgid")),
                attachedAt: number("atime"), detachedAt: number("dtime"), changedAt: number("ctime"),
                rssBytes: number("rss"), swapBytes: number("swap"))
        }
    }
}
