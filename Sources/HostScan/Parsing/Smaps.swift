/// The memory of one mapping, from /proc/PID/smaps: what a detail shows per mapper.
public struct MappingMemory: Sendable, Equatable {
    public var rssBytes: Int64
    public var pssBytes: Int64
    public var swapBytes: Int64

    public init(rssBytes: Int64, pssBytes: Int64, swapBytes: Int64) {
        self.rssBytes = rssBytes
        self.pssBytes = pssBytes
        self.swapBytes = swapBytes
    }

    /// The mapping that starts at `start` in /proc/PID/smaps under `procDirectory`; nil when the
    /// process or the mapping is gone, or smaps may not be read. One file read per call: only
    /// details ask, for the mappers they show.
    public static func read(procDirectory: String, pid: Int32, start: UInt64) -> MappingMemory? {
        ProcFiles.text(procDirectory + "/\(pid)/smaps").flatMap { parse($0, start: start) }
    }

    /// The `Rss:`, `Pss:` and `Swap:` lines (kB) of the block whose header starts at `start`.
    static func parse(_ text: String, start: UInt64) -> MappingMemory? {
        let header = String(start, radix: 16) + "-"
        var inside = false
        var found: MappingMemory?
        for line in text.split(separator: "\n") {
            // A header line is `start-end perms offset dev inode path`; the others are `Name:   value kB`.
            guard let first = line.split(separator: " ", maxSplits: 1).first else { continue }
            if !first.hasSuffix(":") {
                if inside { break }
                inside = line.hasPrefix(header)
                if inside { found = MappingMemory(rssBytes: 0, pssBytes: 0, swapBytes: 0) }
                continue
            }
            guard inside else { continue }
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let kilobytes = Int64(fields[1]) else { continue }
            switch fields[0] {
            case "Rss:": found?.rssBytes = kilobytes * 1024
            case "Pss:": found?.pssBytes = kilobytes * 1024
            case "Swap:": found?.swapBytes = kilobytes * 1024
            default: break
            }
        }
        return found
    }
}
