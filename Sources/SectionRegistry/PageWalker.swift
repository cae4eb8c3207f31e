import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// Walks an object's extents with SEEK_DATA / SEEK_HOLE: its cost follows the number of
/// extents, not pages. On tmpfs, pages allocated by fallocate but never written are holes.
enum PageWalker {
    /// Data extents inside `[from, to)` (to ≤ size), in order, at most `limit` of them.
    ///
    /// The naive walk is a SEEK_DATA and a SEEK_HOLE per extent. Here, after an extent of one page the
    /// next one is found with a SEEK_DATA at the following page boundary instead: the page holding a
    /// data offset is data to its end (tmpfs keeps data by whole pages, or larger folios), so if that
    /// boundary is a hole the SEEK_DATA both ends the extent and finds the next one. Scattered single
    /// pages, the common sparse layout, then take one lseek each instead of two (bench/ANALYSIS.md,
    /// the page map). An extent that goes on costs one lseek more than
    /// the naive walk, and the extents after it are walked the naive way until a single page shows up.
    static func dataExtents(
        of object: OwnedDescriptor, from: Int64, to: Int64, limit: Int = .max, section: String
    ) throws(SectionError) -> (extents: [(Int64, Int64)], complete: Bool) {
        var extents: [(Int64, Int64)] = []
        var position = from
        var found: Int64? = nil  // the start of the next extent, when a probe found it
        var probe = true
        while position < to {
            let start: Int64
            if let found {
                start = found
            } else if let data = try seekData(object, position, section: section) {
                start = data
            } else {
                break
            }
            if start >= to { break }
            found = nil
            let pageEnd = (start / systemPageSize + 1) * systemPageSize
            var end: Int64
            if pageEnd >= to {
                end = to  // the window ends inside this data page
            } else if probe {
                let next = try seekData(object, pageEnd, section: section)
                if next == pageEnd {  // the extent goes on
                    end = try seekHole(object, pageEnd, section: section) ?? to
                    probe = false
                } else {
                    end = pageEnd
                    found = next ?? to  // no data after it: the walk ends there
                }
            } else {
                end = try seekHole(object, start, section: section) ?? to
                probe = end - start <= systemPageSize
            }
            if extents.count == limit { return (extents, false) }
            extents.append((start, min(end, to)))
            position = end
        }
        return (extents, true)
    }

    /// The first data offset at or after `offset`; nil when there is none.
    private static func seekData(_ object: OwnedDescriptor, _ offset: Int64, section: String) throws(SectionError)
        -> Int64?
    {
        try performing("map the pages of", on: section) { () throws(SystemCallError) in
            try object.nextData(from: offset)
        }
    }

    /// The first hole at or after `offset` (the end of the file is one); nil when `offset` is past the
    /// end, i.e. the file was truncated under the walk and the rest is gone.
    private static func seekHole(_ object: OwnedDescriptor, _ offset: Int64, section: String) throws(SectionError)
        -> Int64?
    {
        try performing("map the pages of", on: section) { () throws(SystemCallError) in
            try object.nextHole(from: offset)
        }
    }

    /// Bytes in data extents over `[0, size)`.
    static func dataBytes(of object: OwnedDescriptor, size: Int64, section: String) throws(SectionError) -> Int64 {
        try dataExtents(of: object, from: 0, to: size, section: section).extents.reduce(0) { $0 + $1.1 - $1.0 }
    }

    /// Runs of data / committed / reserved over `[from, to)` of a section with `commit` and `reserve`.
    static func runs(
        of object: OwnedDescriptor, commit: Int64, reserve: Int64, from: Int64, to: Int64, maxRuns: Int, section: String
    ) throws(SectionError) -> (runs: [PageRun], truncated: Bool) {
        var runs: [PageRun] = []
        let committedEnd = min(to, commit)
        var position = from
        if from < committedEnd {
            let (extents, complete) = try dataExtents(
                of: object, from: from, to: committedEnd, limit: maxRuns, section: section)
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
