/// /proc/sysvipc/shm: the System V segments of the reading thread's IPC namespace (a header line
/// naming the columns, then a line per segment).
enum SysVTable {
    /// The columns read, found by the header's names (the kernel has added columns over time).
    private enum Column: Int, CaseIterable {
        case key, shmid, perms, size, cpid, lpid, nattch, uid, gid, cuid, cgid, atime, dtime, ctime, rss, swap

        var name: String { "\(self)" }
    }

    /// Its rows. A host may hold thousands of segments: each line is read once, as bytes, its
    /// fields found by position (the header's order), nothing allocated per line but the row.
    static func parse(_ text: String, ipc: UInt64) -> [SysVSegment] {
        var text = text
        return text.withUTF8 { parse($0, ipc: ipc) }
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>, ipc: UInt64) -> [SysVSegment] {
        var lines = Lines(bytes)
        guard let headerLine = lines.next() else { return [] }
        // The position of each column read, in the header.
        var position = [Int?](repeating: nil, count: Column.allCases.count)
        var fields = Fields()
        fields.split(headerLine, of: bytes)
        for (index, field) in fields.ranges.enumerated() {
            let name = String(decoding: bytes[field], as: UTF8.self)
            if let column = Column.allCases.first(where: { $0.name == name }), position[column.rawValue] == nil {
                position[column.rawValue] = index
            }
        }
        guard position[Column.key.rawValue] != nil, position[Column.shmid.rawValue] != nil,
            position[Column.size.rawValue] != nil
        else { return [] }
        var rows: [SysVSegment] = []
        while let line = lines.next() {
            fields.split(line, of: bytes)
            func field(_ column: Column) -> Slice<UnsafeBufferPointer<UInt8>>? {
                guard let index = position[column.rawValue], index < fields.ranges.count else { return nil }
                return bytes[fields.ranges[index]]
            }
            func number(_ column: Column) -> Int64 { field(column).flatMap { decimal($0) } ?? 0 }
            guard let key = field(.key).flatMap({ decimal($0) }),
                let shmid = field(.shmid).flatMap({ decimal($0) }).flatMap({ Int32(exactly: $0) }), field(.size) != nil
            else { continue }
            rows.append(
                SysVSegment(
                    ipc: ipc, key: Int32(truncatingIfNeeded: key), shmid: shmid,
                    mode: field(.perms).flatMap { octal($0) } ?? 0, size: number(.size),
                    cpid: Int32(clamping: number(.cpid)), lpid: Int32(clamping: number(.lpid)),
                    nattch: number(.nattch), uid: UInt32(clamping: number(.uid)), gid: UInt32(clamping: number(.gid)),
                    cuid: UInt32(clamping: number(.cuid)), cgid: UInt32(clamping: number(.cgid)),
                    attachedAt: number(.atime), detachedAt: number(.dtime), changedAt: number(.ctime),
                    rssBytes: number(.rss), swapBytes: number(.swap)))
        }
        return rows
    }

    /// A decimal integer with an optional sign, the whole field; nil for anything else or an overflow.
    static func decimal(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> Int64? {
        var index = digits.startIndex
        let negative = index < digits.endIndex && digits[index] == UInt8(ascii: "-")
        if negative || (index < digits.endIndex && digits[index] == UInt8(ascii: "+")) { index += 1 }
        guard index < digits.endIndex else { return nil }
        var value: Int64 = 0
        while index < digits.endIndex {
            let digit = digits[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowAgain) = times.addingReportingOverflow(negative ? -Int64(digit) : Int64(digit))
            guard !overflow && !overflowAgain else { return nil }
            value = sum
            index += 1
        }
        return value
    }

    /// An octal number (the perms column) with an optional `+`, the whole field; nil for anything
    /// else or an overflow.
    static func octal(_ field: Slice<UnsafeBufferPointer<UInt8>>) -> UInt32? {
        let digits = field.first == UInt8(ascii: "+") ? field.dropFirst() : field
        guard !digits.isEmpty else { return nil }
        var value: UInt32 = 0
        for byte in digits {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 8, value <= UInt32.max >> 3 else { return nil }
            value = value << 3 | UInt32(digit)
        }
        return value
    }

    /// The lines of a buffer, without their newline; empty lines skipped.
    private struct Lines {
        let bytes: UnsafeBufferPointer<UInt8>
        var start = 0

        init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func next() -> Range<Int>? {
            while start < bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
                defer { start = end + 1 }
                if end > start { return start..<end }
            }
            return nil
        }
    }

    /// The space-separated fields of one line, kept between lines.
    private struct Fields {
        var ranges: [Range<Int>] = []

        mutating func split(_ line: Range<Int>, of bytes: UnsafeBufferPointer<UInt8>) {
            ranges.removeAll(keepingCapacity: true)
            var index = line.lowerBound
            while index < line.upperBound {
                while index < line.upperBound && bytes[index] == UInt8(ascii: " ") { index += 1 }
                let start = index
                while index < line.upperBound && bytes[index] != UInt8(ascii: " ") { index += 1 }
                if index > start { ranges.append(start..<index) }
            }
        }
    }
}
