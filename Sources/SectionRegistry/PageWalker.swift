import CShmLinux

#if canImport(Glibc)
    import Glibc
#endif

/// Walks an object's extents with SEEK_DATA / SEEK_HOLE: its cost follows the number of
/// extents, not pages. On tmpfs, pages allocated by fallocate but never written are holes.
enum PageWalker {
    /// Data extents inside `[from, to)` (to ≤ size), in order, at most `limit` of them.
    static func dataExtents(
        fd: Int32, from: Int64, to: Int64, limit: Int = .max, section: String
    ) throws(SectionError) -> (extents: [(Int64, Int64)], complete: Bool) {
        var extents: [(Int64, Int64)] = []
        var position = from
        while position < to {
            let start = cshm_seek_data(fd, position)
            if start < 0 {
                if errno == ENXIO { break }
                throw SectionError.fromErrno(
                    errno, call: "lseek(SEEK_DATA)", section: section, doing: "map the pages of")
            }
            if start >= to { break }
            var end = cshm_seek_hole(fd, start)
            if end < 0 {
                if errno != ENXIO {
                    throw SectionError.fromErrno(
                        errno, call: "lseek(SEEK_HOLE)", section: section, doing: "map the pages of")
                }
                end = to  // truncated under us: the rest is gone
            }
            if extents.count == limit { return (extents, false) }
            extents.append((start, min(end, to)))
            position = end
        }
        return (extents, true)
    }

    /// Bytes in data extents over `[0, size)`.
    static func dataBytes(fd: Int32, size: Int64, section: String) throws(SectionError) -> Int64 {
        try dataExtents(fd: fd, from: 0, to: size, section: section).extents.reduce(0) { $0 + $1.1 - $1.0 }
    }

    /// Runs of data / committed / reserved over `[from, to)` of a section with `commit` and `reserve`.
    static func runs(
        fd: Int32, commit: Int64, reserve: Int64, from: Int64, to: Int64, maxRuns: Int, section: String
    ) throws(SectionError) -> (runs: [PageRun], truncated: Bool) {
        var runs: [PageRun] = []
        let committedEnd = min(to, commit)
        var position = from
        if from < committedEnd {
            let (extents, complete) = try dataExtents(
                fd: fd, from: from, to: committedEnd, limit: maxRuns, section: section)
            for (start, end) in extents {
                if start > position {
                    runs.append(PageRun(offset: position, length: start - position, state: .committed))
                }
                runs.append(PageRun(offset: start, length: end - start, state: .data))
                position = end
            }
            if !complete || runs.count > maxRuns { return (Array(runs.prefix(maxRuns)), true) }
            if position < committedEnd {
                runs.append(PageRun(offset: position, length: committedEnd - position, state: .committed))
            }
        }
        let reservedStart = max(from, commit)
        if reservedStart < min(to, reserve) {
            runs.append(PageRun(offset: reservedStart, length: min(to, reserve) - reservedStart, state: .reserved))
        }
        if runs.count > maxRuns { return (Array(runs.prefix(maxRuns)), true) }
        return (runs, false)
    }
}
