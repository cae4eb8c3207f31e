import HTTPServer

/// `format=hexdump`: byte for byte what `hexdump -C -s OFFSET -n COUNT` prints for bytes already read,
/// `*` lines included, written line by line into the send buffer while the client takes it.
///
/// The bytes are read before the answer (under the section lock when asked, through the safe read path),
/// so the dump is one consistent read, a truncation racing it is a clean 416, and the exact length of the
/// text is known up front for `Content-Length` and `HEAD`. The text itself, about 4.6 times the bytes,
/// is never held whole.
struct Hexdump: StreamedBody {
    let bytes: [UInt8]
    /// The offset of the first byte, as `-s` gives it to `hexdump`.
    let offset: Int64
    let length: UInt64?

    init(_ bytes: [UInt8], offset: Int64) {
        self.bytes = bytes
        self.offset = offset
        self.length = UInt64(Self.textLength(bytes, offset: offset))
    }

    func makeWriter() -> any BodyWriter { HexdumpWriter(self) }

    /// The whole text at once (for callers that want it in memory, and tests).
    static func text(_ bytes: [UInt8], offset: Int64) -> [UInt8] {
        let dump = Hexdump(bytes, offset: offset)
        let writer = HexdumpWriter(dump)
        let count = Int(dump.length!)
        guard count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            // A call makes at most one line in its last `longestLine` bytes: call again until done.
            while initialized < count,
                let written = writer.write(
                    into: UnsafeMutableRawBufferPointer(.init(rebasing: buffer[initialized...]))),
                written > 0
            {
                initialized += written
            }
        }
    }

    /// The number of bytes of text, computed without writing it: 2 for each `*` line, the offset's digits
    /// plus 55 plus the bytes' count for each printed line (two spaces, 16 hex columns of three, the middle
    /// space, ` |`, the characters, `|` and the newline), and the closing offset line.
    static func textLength(_ bytes: [UInt8], offset: Int64) -> Int {
        guard !bytes.isEmpty else { return 0 }
        return bytes.withUnsafeBufferPointer { input in
            if UInt64(offset) + UInt64(input.count) < eightDigitLimit {
                return narrowTextLength(input)
            }
            var total = 0
            var squeezing = false
            var start = 0
            while start < input.count {
                let count = min(16, input.count - start)
                if count == 16 && start >= 16 && sameAsPrevious(input.baseAddress! + start) {
                    if !squeezing { total += 2 }
                    squeezing = true
                } else {
                    squeezing = false
                    total += offsetWidth(UInt64(offset) + UInt64(start)) + 55 + count
                }
                start += 16
            }
            return total + offsetWidth(UInt64(offset) + UInt64(input.count)) + 1
        }
    }

    /// `textLength` when every offset has eight digits: 79 bytes for each printed whole line, 2 for each
    /// `*`, 63 plus the count for a last partial line, 9 for the closing offset.
    private static func narrowTextLength(_ input: UnsafeBufferPointer<UInt8>) -> Int {
        let base = input.baseAddress!
        let whole = input.count / 16
        var printed = min(whole, 1)  // the first line is never a `*`
        var stars = 0
        var squeezing = false
        var start = 16
        while start < whole * 16 {
            if sameAsPrevious(base + start) {
                if !squeezing { stars += 1 }
                squeezing = true
            } else {
                printed += 1
                squeezing = false
            }
            start += 16
        }
        let rest = input.count % 16
        return printed * 79 + stars * 2 + (rest > 0 ? 63 + rest : 0) + 9
    }

    /// The longest line: a 16-digit offset, two spaces, 16 × 3 hex columns, the middle space,
    /// " |", 16 characters, "|\n".
    static let longestLine = 16 + 2 + 48 + 1 + 2 + 16 + 2

    /// Whether the 16 bytes at `line` equal the 16 before them (`hexdump` squeezes such lines to `*`).
    @inline(__always)
    static func sameAsPrevious(_ line: UnsafePointer<UInt8>) -> Bool {
        let raw = UnsafeRawPointer(line)
        return raw.loadUnaligned(as: UInt64.self) == raw.loadUnaligned(fromByteOffset: -16, as: UInt64.self)
            && raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                == raw.loadUnaligned(fromByteOffset: -8, as: UInt64.self)
    }

    /// Offsets below this have exactly eight hex digits.
    static let eightDigitLimit: UInt64 = 1 << 32

    /// `%08x`: at least eight hex digits.
    @inline(__always)
    static func offsetWidth(_ value: UInt64) -> Int {
        max(8, (64 - value.leadingZeroBitCount + 3) / 4)
    }

    /// For every byte value, its hex column as four bytes: the two lowercase digits and two spaces. A column
    /// is stored whole and the next one starts three bytes on, over the spare space.
    static let columns: [UInt32] = (0..<256).map { value in
        let digits = Array("0123456789abcdef".utf8)
        return UInt32(digits[value >> 4]) | UInt32(digits[value & 15]) << 8 | 0x2020_0000
    }

    /// For every byte value, the character `hexdump -C` shows: itself when printable ASCII, else `.`.
    static let characters: [UInt8] = (0..<256).map { (0x20...0x7e).contains($0) ? UInt8($0) : UInt8(ascii: ".") }
}

/// One sending of a hexdump: where it stands in the bytes, whether it is inside a `*` run, and the part
/// of a line that did not fit the last buffer.
final class HexdumpWriter: BodyWriter {
    private let dump: Hexdump
    private var cursor: Cursor
    /// A line made whole but only partly handed over: `carry[carryStart..<carryEnd]` goes first next time.
    private var carry = [UInt8](repeating: 0, count: Hexdump.longestLine)
    private var carryStart = 0
    private var carryEnd = 0

    /// Where the text stands, kept in a local while a buffer is filled so the loop works on registers.
    private struct Cursor {
        let base: Int64
        /// The index of the next 16-byte line to look at.
        var next = 0
        var squeezing = false
        /// Whether the closing offset line has been made.
        var closed: Bool
    }

    private struct Tables {
        let columns: UnsafePointer<UInt32>
        let characters: UnsafePointer<UInt8>
    }

    init(_ dump: Hexdump) {
        self.dump = dump
        // hexdump -n 0 prints nothing, not even an offset.
        cursor = Cursor(base: dump.offset, closed: dump.bytes.isEmpty)
    }

    func write(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let out = base.assumingMemoryBound(to: UInt8.self)
        let room = buffer.count
        var at = 0
        if carryStart < carryEnd {
            let count = min(carryEnd - carryStart, room)
            carry.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + carryStart, count: count) }
            carryStart += count
            at = count
        }
        var cursor = self.cursor
        var made = 0
        Hexdump.columns.withUnsafeBufferPointer { columns in
            Hexdump.characters.withUnsafeBufferPointer { characters in
                dump.bytes.withUnsafeBufferPointer { input in
                    let tables = Tables(columns: columns.baseAddress!, characters: characters.baseAddress!)
                    if UInt64(cursor.base) + UInt64(input.count) < Hexdump.eightDigitLimit {
                        at = Self.narrowLines(input, &cursor, into: out, at: at, room: room, tables)
                    }
                    while room - at >= Hexdump.longestLine && !cursor.closed {
                        at += Self.nextLine(input, &cursor, into: out + at, tables)
                    }
                    if at < room && !cursor.closed {
                        // Too little room for a whole line: make it aside; what fits is handed over below.
                        made = carry.withUnsafeMutableBufferPointer {
                            Self.nextLine(input, &cursor, into: $0.baseAddress!, tables)
                        }
                    }
                }
            }
        }
        self.cursor = cursor
        if made > 0 {
            let count = min(made, room - at)
            carry.withUnsafeBufferPointer { (out + at).update(from: $0.baseAddress!, count: count) }
            (carryStart, carryEnd) = (count, made)
            at += count
        }
        return at
    }

    /// The whole lines that fit from `at` when every offset has eight digits, in one tight loop; returns
    /// where the text now ends. The last partial line and the closing offset are left to `nextLine`.
    @inline(__always)
    private static func narrowLines(
        _ input: UnsafeBufferPointer<UInt8>, _ cursor: inout Cursor, into out: UnsafeMutablePointer<UInt8>,
        at start: Int, room: Int, _ tables: Tables
    ) -> Int {
        let base = input.baseAddress!
        let whole = input.count & ~15
        let first = UInt32(truncatingIfNeeded: cursor.base)
        var next = cursor.next
        var squeezing = cursor.squeezing
        var at = start
        while next < whole && room - at >= fullLineLength {
            let line = base + next
            if next >= 16 && Hexdump.sameAsPrevious(line) {
                if !squeezing {
                    UnsafeMutableRawPointer(out + at).storeBytes(of: 0x0A2A, as: UInt16.self)  // "*\n"
                    at += 2
                    squeezing = true
                }
            } else {
                squeezing = false
                fullLine(line, at: first &+ UInt32(truncatingIfNeeded: next), into: out + at, tables)
                at += fullLineLength
            }
            next += 16
        }
        cursor.next = next
        cursor.squeezing = squeezing
        return at
    }

    /// Writes the next piece of text at `out` (room for a longest line) and returns its length: a line of
    /// bytes, the `*` that starts a run of lines equal to the one before, or the closing offset.
    @inline(__always)
    private static func nextLine(
        _ input: UnsafeBufferPointer<UInt8>, _ cursor: inout Cursor, into out: UnsafeMutablePointer<UInt8>,
        _ tables: Tables
    ) -> Int {
        let base = input.baseAddress!
        while cursor.next < input.count {
            let start = cursor.next
            let count = min(16, input.count - start)
            cursor.next += 16
            if count == 16 && start >= 16 && Hexdump.sameAsPrevious(base + start) {
                if cursor.squeezing { continue }
                cursor.squeezing = true
                out[0] = UInt8(ascii: "*")
                out[1] = UInt8(ascii: "\n")
                return 2
            }
            cursor.squeezing = false
            let position = UInt64(cursor.base) + UInt64(start)
            if count == 16 && position < Hexdump.eightDigitLimit {
                fullLine(base + start, at: UInt32(truncatingIfNeeded: position), into: out, tables)
                return fullLineLength
            }
            return line(base + start, count: count, at: position, into: out, tables)
        }
        cursor.closed = true
        let width = offset(UInt64(cursor.base) + UInt64(input.count), into: out, tables)
        out[width] = UInt8(ascii: "\n")
        return width + 1
    }

    /// The length of a line of 16 bytes at an offset of eight digits.
    private static let fullLineLength = 79

    /// The common line: 16 bytes at an offset of eight digits, `fullLineLength` bytes of text written with
    /// a few wide stores and no loop (a table load and a store per two digits of the offset and per column,
    /// the characters eight at a time).
    @inline(__always)
    private static func fullLine(
        _ bytes: UnsafePointer<UInt8>, at position: UInt32, into out: UnsafeMutablePointer<UInt8>, _ tables: Tables
    ) {
        let raw = UnsafeMutableRawPointer(out)
        let columns = tables.columns
        // The offset's digits two at a time: the low half of a column is the byte's two digits.
        raw.storeBytes(of: UInt16(truncatingIfNeeded: columns[Int(position >> 24)]), as: UInt16.self)
        raw.storeBytes(
            of: UInt16(truncatingIfNeeded: columns[Int((position >> 16) & 0xFF)]), toByteOffset: 2, as: UInt16.self)
        raw.storeBytes(
            of: UInt16(truncatingIfNeeded: columns[Int((position >> 8) & 0xFF)]), toByteOffset: 4, as: UInt16.self)
        raw.storeBytes(of: columns[Int(position & 0xFF)], toByteOffset: 6, as: UInt32.self)  // and "  "
        // Each column's four bytes are its digits and two spaces; the next column, three bytes on, overwrites
        // the second space, except after the eighth, whose second space is the middle gap.
        raw.storeBytes(of: columns[Int(bytes[0])], toByteOffset: 10, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[1])], toByteOffset: 13, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[2])], toByteOffset: 16, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[3])], toByteOffset: 19, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[4])], toByteOffset: 22, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[5])], toByteOffset: 25, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[6])], toByteOffset: 28, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[7])], toByteOffset: 31, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[8])], toByteOffset: 35, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[9])], toByteOffset: 38, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[10])], toByteOffset: 41, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[11])], toByteOffset: 44, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[12])], toByteOffset: 47, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[13])], toByteOffset: 50, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[14])], toByteOffset: 53, as: UInt32.self)
        raw.storeBytes(of: columns[Int(bytes[15])], toByteOffset: 56, as: UInt32.self)
        out[60] = UInt8(ascii: "|")
        let input = UnsafeRawPointer(bytes)
        raw.storeBytes(of: characters(input.loadUnaligned(as: UInt64.self)), toByteOffset: 61, as: UInt64.self)
        raw.storeBytes(
            of: characters(input.loadUnaligned(fromByteOffset: 8, as: UInt64.self)), toByteOffset: 69, as: UInt64.self)
        raw.storeBytes(of: 0x0A7C, toByteOffset: 77, as: UInt16.self)  // "|\n"
    }

    /// `OFFSET  xx xx … xx  xx … xx  |chars|\n` for `count` (1…16) bytes; returns its length.
    @inline(__always)
    private static func line(
        _ bytes: UnsafePointer<UInt8>, count: Int, at position: UInt64, into out: UnsafeMutablePointer<UInt8>,
        _ tables: Tables
    ) -> Int {
        let raw = UnsafeMutableRawPointer(out)
        var at = offset(position, into: out, tables)
        raw.storeBytes(of: 0x2020, toByteOffset: at, as: UInt16.self)
        at += 2
        if count == 16 {
            for index in 0..<16 {
                raw.storeBytes(of: tables.columns[Int(bytes[index])], toByteOffset: at, as: UInt32.self)
                at += index == 7 ? 4 : 3  // the column's spare space is the middle gap
            }
            // The last column's spare space is the one before `|`; the 16 characters at once.
            out[at + 1] = UInt8(ascii: "|")
            let input = UnsafeRawPointer(bytes)
            raw.storeBytes(of: characters(input.loadUnaligned(as: UInt64.self)), toByteOffset: at + 2, as: UInt64.self)
            raw.storeBytes(
                of: characters(input.loadUnaligned(fromByteOffset: 8, as: UInt64.self)), toByteOffset: at + 10,
                as: UInt64.self)
            raw.storeBytes(of: 0x0A7C, toByteOffset: at + 18, as: UInt16.self)  // "|\n"
            return at + 20
        } else {
            for index in 0..<16 {
                let column = index < count ? tables.columns[Int(bytes[index])] : 0x2020_2020
                raw.storeBytes(of: column, toByteOffset: at, as: UInt32.self)
                at += index == 7 ? 4 : 3
            }
        }
        // The last column's spare space is the one before `|`.
        out[at + 1] = UInt8(ascii: "|")
        at += 2
        for index in 0..<count { out[at + index] = tables.characters[Int(bytes[index])] }
        at += count
        raw.storeBytes(of: 0x0A7C, toByteOffset: at, as: UInt16.self)  // "|\n"
        return at + 2
    }

    /// What `hexdump -C` shows for eight bytes at once: each byte itself when printable ASCII (0x20…0x7e),
    /// else `.`. Per byte, with its bit 7 set first (so that no subtraction borrows from the next byte):
    /// minus 0x20 keeps bit 7 when the low seven bits are 0x20 or more, minus 0x7f only when they are
    /// 0x7f, and the byte's own bit 7 rules out 0x80…0xff.
    @inline(__always)
    private static func characters(_ bytes: UInt64) -> UInt64 {
        let high = bytes | 0x8080_8080_8080_8080
        let printable = (high &- 0x2020_2020_2020_2020) & ~(high &- 0x7F7F_7F7F_7F7F_7F7F) & ~bytes
        let mask = ((printable >> 7) & 0x0101_0101_0101_0101) &* 0xFF
        return bytes ^ ((bytes ^ 0x2E2E_2E2E_2E2E_2E2E) & ~mask)
    }

    /// `%08x` at `out`; returns the number of digits.
    @inline(__always)
    private static func offset(_ value: UInt64, into out: UnsafeMutablePointer<UInt8>, _ tables: Tables) -> Int {
        let width = Hexdump.offsetWidth(value)
        let raw = UnsafeMutableRawPointer(out)
        var at = 0
        if width & 1 == 1 {  // an odd number of digits: the first one alone
            out[0] = UInt8(truncatingIfNeeded: tables.columns[Int((value >> UInt64((width - 1) * 4)) & 15)] >> 8)
            at = 1
        }
        var shift = UInt64(width - at - 2) * 4
        while at < width {
            let pair = UInt16(truncatingIfNeeded: tables.columns[Int((value >> shift) & 0xFF)])
            raw.storeBytes(of: pair, toByteOffset: at, as: UInt16.self)
            at += 2
            shift &-= 8
        }
        return width
    }
}
