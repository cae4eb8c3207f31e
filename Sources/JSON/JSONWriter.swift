/// The one JSON output writer: compact text written straight into memory it owns. Values that
/// know their JSON conform to `JSONRepresentable` and write themselves with it; `JSONValue` is the
/// model for JSON whose shape is only known at run time.
///
/// ```swift
/// var json = JSONWriter()
/// json.beginObject()
/// json.key("name"); json.string("a")
/// json.key("sizes"); json.beginArray(); json.int(1); json.int(2); json.endArray()
/// json.endObject()
/// json.finish()  // {"name":"a","sizes":[1,2]}
/// ```
///
/// Every value is followed by a comma, which the next `end…` (or `finish`) takes back: no state is
/// kept per level. Keys and values must alternate correctly; the writer does not check.
///
/// The text is written at a pointer and grows by doubling, with one room check per call instead of
/// one per byte, so a document of ten thousand objects costs no allocation per member (see
/// bench/ANALYSIS.md on the listing). The small calls are `@inlinable`: written from another module
/// (a listing, a page map of a million runs), each would otherwise be a function call.
public struct JSONWriter: ~Copyable {
    @usableFromInline var start: UnsafeMutablePointer<UInt8>
    @usableFromInline var end: UnsafeMutablePointer<UInt8>
    @usableFromInline var capacity: Int

    public init(capacity: Int = 256) {
        self.capacity = max(capacity, 64)
        start = .allocate(capacity: self.capacity)
        end = start
    }

    deinit { start.deallocate() }

    /// Bytes written so far.
    @inlinable public var count: Int { end - start }

    /// The text written (complete once every object and array is ended).
    public consuming func finish() -> [UInt8] {
        dropTrailingComma()
        let count = self.count
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { buffer.baseAddress!.initialize(from: start, count: count) }
            initialized = count
        }
    }

    /// The text in the writer's own memory, which the caller takes over (and deallocates): no copy.
    public consuming func finishBuffer() -> UnsafeMutableRawBufferPointer {
        dropTrailingComma()
        let text = UnsafeMutableRawBufferPointer(start: start, count: count)
        start = .allocate(capacity: 1)  // what deinit frees instead
        return text
    }

    @inlinable @inline(__always) public mutating func beginObject() { byte(UInt8(ascii: "{")) }
    @inlinable @inline(__always) public mutating func endObject() { close(UInt8(ascii: "}")) }
    @inlinable @inline(__always) public mutating func beginArray() { byte(UInt8(ascii: "[")) }
    @inlinable @inline(__always) public mutating func endArray() { close(UInt8(ascii: "]")) }

    /// A member name written in the code: plain ASCII that needs no escaping, copied as is.
    @inlinable @inline(__always)
    public mutating func key(_ name: StaticString) {
        quotedLiteral(name, then: UInt8(ascii: ":"))
    }

    /// A member name from data (a label's key): escaped as JSON needs.
    public mutating func key(data name: String) {
        quoted(name)
        byte(UInt8(ascii: ":"))
    }

    public mutating func string(_ value: String) {
        quoted(value)
        byte(UInt8(ascii: ","))
    }

    /// A string value written in the code (an enumeration's name): plain ASCII, copied as is.
    @inlinable @inline(__always)
    public mutating func string(literal value: StaticString) {
        quotedLiteral(value, then: UInt8(ascii: ","))
    }

    /// A string, or `null` for nil.
    public mutating func string(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    /// A string value of at most `maximumLength` bytes that need no escaping (digits, punctuation),
    /// which `write` puts at the pointer it is given, returning how many it wrote.
    @inlinable
    public mutating func asciiString(maximumLength: Int, _ write: (UnsafeMutablePointer<UInt8>) -> Int) {
        reserve(maximumLength + 3)
        end.pointee = UInt8(ascii: "\"")
        let written = write(end + 1)
        precondition(written <= maximumLength, "asciiString wrote more than it said it would")
        (end + 1 + written).pointee = UInt8(ascii: "\"")
        (end + 2 + written).pointee = UInt8(ascii: ",")
        end += written + 3
    }

    @inlinable @inline(__always)
    public mutating func int(_ value: Int64) {
        reserve(21)
        end = Self.writeInteger(value, at: end)
        end.pointee = UInt8(ascii: ",")
        end += 1
    }

    public mutating func uint(_ value: UInt64) {
        reserve(22)
        if value <= UInt64(Int64.max) {
            end = Self.writeInteger(Int64(value), at: end)
        } else {
            end = Self.writeInteger(Int64(value / 10), at: end)
            end.pointee = UInt8(ascii: "0") + UInt8(value % 10)
            end += 1
        }
        byte(UInt8(ascii: ","))
    }

    /// A number as Swift prints it (`1.5`, `1e-05`: the shortest text that reads back the same);
    /// `null` for NaN and infinity, which JSON has not.
    public mutating func double(_ value: Double) {
        guard value.isFinite else { return null() }
        var text = value.description
        text.withUTF8 { bytes in
            reserve(bytes.count + 1)
            end.update(from: bytes.baseAddress!, count: bytes.count)
            end += bytes.count
        }
        byte(UInt8(ascii: ","))
    }

    @inlinable
    public mutating func bool(_ value: Bool) {
        literal(value ? "true," : "false,")
    }

    @inlinable
    public mutating func null() {
        literal("null,")
    }

    /// A value that writes itself.
    @inlinable
    public mutating func value(_ value: some JSONRepresentable) {
        value.write(to: &self)
    }

    /// A dynamic value (`.object([...])` reads at the call site).
    public mutating func value(_ value: JSONValue) {
        value.write(to: &self)
    }

    /// An array of values that write themselves.
    @inlinable
    public mutating func array<Elements: Sequence>(_ elements: Elements) where Elements.Element: JSONRepresentable {
        beginArray()
        for element in elements { element.write(to: &self) }
        endArray()
    }

    /// Values another writer produced (its `finish()`), spliced in as they are: for parts of a long
    /// array written concurrently, or text that is JSON already.
    public mutating func fragment(_ text: [UInt8]) {
        guard !text.isEmpty else { return }
        reserve(text.count + 1)
        text.withUnsafeBufferPointer { end.update(from: $0.baseAddress!, count: $0.count) }
        end += text.count
        byte(UInt8(ascii: ","))
    }

    /// The decimal digits of `value` at `at`; returns where they end. At most 20 bytes.
    @inlinable @inline(__always)
    public static func writeInteger(_ value: Int64, at start: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<
        UInt8
    > {
        var at = start
        if value < 0 {
            at.pointee = UInt8(ascii: "-")
            at += 1
        }
        var magnitude = value.magnitude
        let digits = decimalDigits(magnitude)
        // Two digits at a time, from a table in the program's constant data (no lazy global to check).
        let pairs = UnsafeRawPointer(digitPairs.utf8Start)
        let end = at + digits
        var cursor = end
        while magnitude >= 100 {
            cursor -= 2
            UnsafeMutableRawPointer(cursor).copyMemory(from: pairs + Int(magnitude % 100) * 2, byteCount: 2)
            magnitude /= 100
        }
        if magnitude >= 10 {
            cursor -= 2
            UnsafeMutableRawPointer(cursor).copyMemory(from: pairs + Int(magnitude) * 2, byteCount: 2)
        } else {
            // The leading digit is at `at`. Written as `cursor -= 1; cursor.pointee = …`, the store
            // was dropped by the optimizer (Swift 6.x, -O, inlined into another module) whenever the
            // value was a one-digit constant: `json.int(0)` wrote a NUL byte. See JSONTests.
            at.pointee = UInt8(ascii: "0") + UInt8(magnitude)
        }
        return end
    }

    /// How many decimal digits `value` has (1 to 20), in a few comparisons instead of one per digit.
    @inlinable @inline(__always)
    static func decimalDigits(_ value: UInt64) -> Int {
        var rest = value
        var digits = 1
        if rest >= 10_000_000_000_000_000 {
            rest /= 10_000_000_000_000_000
            digits += 16
        }
        if rest >= 100_000_000 {
            rest /= 100_000_000
            digits += 8
        }
        if rest >= 10_000 {
            rest /= 10_000
            digits += 4
        }
        if rest >= 100 {
            rest /= 100
            digits += 2
        }
        return rest >= 10 ? digits + 1 : digits
    }

    /// "00" … "99".
    @usableFromInline static let digitPairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """

    /// Whether a byte must be escaped inside a JSON string (quote, backslash, control characters, DEL).
    @inline(__always)
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0x7F
    }

    private mutating func quoted(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            // Most strings need no escaping: copied in one go.
            if !bytes.contains(where: Self.needsEscape) {
                reserve(bytes.count + 2)
                end.pointee = UInt8(ascii: "\"")
                if let base = bytes.baseAddress { (end + 1).update(from: base, count: bytes.count) }
                (end + 1 + bytes.count).pointee = UInt8(ascii: "\"")
                end += bytes.count + 2
                return
            }
            reserve(bytes.count * 6 + 2)  // every byte escaped as \u00XX, at worst
            end.pointee = UInt8(ascii: "\"")
            end += 1
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    end[0] = UInt8(ascii: "\\")
                    end[1] = byte
                    end += 2
                case 0x0A: end = Self.escape("\\n", at: end)
                case 0x0D: end = Self.escape("\\r", at: end)
                case 0x09: end = Self.escape("\\t", at: end)
                case 0x00..<0x20, 0x7F:
                    let digits: StaticString = "0123456789abcdef"
                    end = Self.escape("\\u00", at: end)
                    end[0] = digits.utf8Start[Int(byte >> 4)]
                    end[1] = digits.utf8Start[Int(byte & 0x0F)]
                    end += 2
                default:
                    end.pointee = byte
                    end += 1
                }
            }
            end.pointee = UInt8(ascii: "\"")
            end += 1
        }
    }

    @inlinable @inline(__always)
    static func escape(_ text: StaticString, at: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        at.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        return at + text.utf8CodeUnitCount
    }

    @inlinable @inline(__always)
    mutating func literal(_ text: StaticString) {
        reserve(text.utf8CodeUnitCount)
        end = Self.escape(text, at: end)
    }

    /// `"text"` and then `separator` (`:` after a key, `,` after a value).
    @inlinable @inline(__always)
    mutating func quotedLiteral(_ text: StaticString, then separator: UInt8) {
        let length = text.utf8CodeUnitCount
        reserve(length + 3)
        end.pointee = UInt8(ascii: "\"")
        (end + 1).update(from: text.utf8Start, count: length)
        (end + 1 + length).pointee = UInt8(ascii: "\"")
        (end + 2 + length).pointee = separator
        end += length + 3
    }

    @inlinable @inline(__always)
    mutating func byte(_ value: UInt8) {
        reserve(1)
        end.pointee = value
        end += 1
    }

    @inlinable @inline(__always)
    mutating func close(_ bracket: UInt8) {
        // A string ends in a quote and a number in a digit: a trailing comma is always a separator.
        if end > start && end[-1] == UInt8(ascii: ",") { end -= 1 }
        reserve(2)
        end[0] = bracket
        end[1] = UInt8(ascii: ",")
        end += 2
    }

    private mutating func dropTrailingComma() {
        if end > start && end[-1] == UInt8(ascii: ",") { end -= 1 }
    }

    /// Makes room for `bytes` more.
    @inlinable @inline(__always)
    mutating func reserve(_ bytes: Int) {
        if capacity - count < bytes { grow(bytes) }
    }

    @usableFromInline
    mutating func grow(_ bytes: Int) {
        let used = count
        var newCapacity = capacity * 2
        while newCapacity - used < bytes { newCapacity *= 2 }
        let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        larger.update(from: start, count: used)
        start.deallocate()
        start = larger
        end = larger + used
        capacity = newCapacity
    }
}
