/// /proc/locks: who locks which object.
enum Locks {
    /// `N: TYPE ADVISORY|MANDATORY READ|WRITE PID MAJ:MIN:INODE START END`, hex device; waiters (`->`) skipped.
    static func parse(_ text: String) -> [(ObjectID, LockEntry)] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] != "->" else { return nil }
            let identity = fields[5].split(separator: ":")
            guard identity.count == 3, let major = UInt32(identity[0], radix: 16),
                let minor = UInt32(identity[1], radix: 16), let inode = UInt64(identity[2])
            else { return nil }
            let pid = Int32(fields[4]).flatMap { $0 > 0 ? $0 : nil }
            return (
                ObjectID(device: DeviceID(major: major, minor: minor), inode: inode),
                LockEntry(pid: pid, exclusive: fields[3] == "WRITE", type: String(fields[1]))
            )
        }
    }
}

/// `ipc:[4026531839]` (a /proc/PID/ns link) → 4026531839.
func namespaceInode(_ link: String?) -> UInt64? {
    guard let link, let open = link.firstIndex(of: "["), link.hasSuffix("]") else { return nil }
    return UInt64(link[link.index(after: open)..<link.index(before: link.endIndex)])
}
