#if canImport(Glibc)
    import Glibc
#endif

/// What local mode cannot see without root: other users' processes, whose maps and descriptors
/// (mappers, holders, `orphan`) /proc hides from us. Said once, on standard error (docs CLI.md).
enum ProcessVisibility {
    /// How many processes' `/proc/PID/maps` this process may not read.
    static func hiddenProcesses(procRoot: String = "/proc") -> Int {
        guard let directory = opendir(procRoot) else { return 0 }
        defer { closedir(directory) }
        var hidden = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard !name.isEmpty, name.utf8.allSatisfy({ (48...57).contains($0) }) else { continue }
            let descriptor = open(procRoot + "/" + name + "/maps", O_RDONLY | O_CLOEXEC)
            if descriptor >= 0 {
                close(descriptor)
            } else if errno == EACCES || errno == EPERM {
                hidden += 1
            }
        }
        return hidden
    }

    /// The one line, when some processes are hidden (never as root).
    static func warnIfBlind() {
        guard geteuid() != 0 else { return }
        let hidden = hiddenProcesses()
        guard hidden > 0 else { return }
        Terminal.error(
            "not root: the mappings and open descriptors of \(hidden) other users' processes are not visible, "
                + "so MAPPERS and ORPHAN count only this user's (run as root, or with CAP_SYS_PTRACE)")
    }
}
