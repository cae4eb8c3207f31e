import JSON

#if canImport(Glibc)
    import Glibc
#endif

/// The text forms the API gives numbers and times (API.md "A section in JSON"): RFC 3339 times,
/// octal modes, hexadecimal addresses. The log lines use the timestamps too.
enum Render {
    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// `0x` and the lower-case hexadecimal digits of `value` at `at`; returns how many (at most 18).
    static func writeHex(_ value: UInt64, at: UnsafeMutablePointer<UInt8>) -> Int {
        let digits: StaticString = "0123456789abcdef"
        var width = 1
        while width < 16 && value >> (4 * UInt64(width)) != 0 { width += 1 }
        at[0] = UInt8(ascii: "0")
        at[1] = UInt8(ascii: "x")
        var rest = value
        for index in stride(from: width + 1, through: 2, by: -1) {
            at[index] = digits.utf8Start[Int(rest & 15)]
            rest >>= 4
        }
        return width + 2
    }

    /// At least four octal digits (`0600`, `1777`) at `at`; returns how many (at most 11).
    static func writeOctal(_ mode: UInt32, at: UnsafeMutablePointer<UInt8>) -> Int {
        var width = 4
        while width < 11 && mode >> (3 * UInt32(width)) != 0 { width += 1 }
        var rest = mode
        for index in stride(from: width - 1, through: 0, by: -1) {
            at[index] = UInt8(ascii: "0") + UInt8(rest & 7)
            rest >>= 3
        }
        return width
    }

    /// The longest text `writeTimestamp` writes: a 20-character year, the rest of the date and time (15),
    /// milliseconds (4) and `Z`.
    static let timestampBound = 40

    /// RFC 3339 in UTC: `2026-11-23T10:00:00Z`.
    static func timestamp(_ seconds: Double, milliseconds: Bool = false) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: timestampBound) { buffer in
            let count = writeTimestamp(seconds, milliseconds: milliseconds, at: buffer.baseAddress!)
            return String(decoding: buffer[0..<count], as: UTF8.self)
        }
    }

    /// RFC 3339 in UTC at `at`; returns how many bytes (at most `timestampBound`).
    static func writeTimestamp(_ seconds: Double, milliseconds: Bool, at start: UnsafeMutablePointer<UInt8>) -> Int {
        // Civil date from the day number (H. Hinnant's algorithm), not gmtime_r: a listing writes two
        // timestamps for each of up to 10,000 sections.
        var at = start
        func digits(_ value: Int64, _ width: Int) {
            var rest = value
            for index in stride(from: width - 1, through: 0, by: -1) {
                at[index] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            }
            at += width
        }
        func byte(_ value: UInt8) {
            at.pointee = value
            at += 1
        }
        let finite = seconds.isFinite && abs(seconds) < 1e15
        let whole = finite ? Int64(seconds.rounded(.down)) : 0
        let days = whole >= 0 ? whole / 86_400 : (whole - 86_399) / 86_400
        let secondOfDay = whole - days * 86_400
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        if (0...9999).contains(year) { digits(year, 4) } else { at = JSONWriter.writeInteger(year, at: at) }
        byte(UInt8(ascii: "-"))
        digits(month, 2)
        byte(UInt8(ascii: "-"))
        digits(day, 2)
        byte(UInt8(ascii: "T"))
        digits(secondOfDay / 3_600, 2)
        byte(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2)
        byte(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2)
        if milliseconds && finite {
            byte(UInt8(ascii: "."))
            digits(min(999, Int64((seconds - seconds.rounded(.down)) * 1000)), 3)
        }
        byte(UInt8(ascii: "Z"))
        return at - start
    }
}

extension JSONWriter {
    /// An RFC 3339 time in UTC as a JSON string (`Render.writeTimestamp`).
    mutating func timestamp(_ seconds: Double, milliseconds: Bool = false) {
        asciiString(maximumLength: Render.timestampBound) {
            Render.writeTimestamp(seconds, milliseconds: milliseconds, at: $0)
        }
    }

    /// A file mode as a JSON string of octal digits (`"0600"`).
    mutating func octal(_ mode: UInt32) {
        asciiString(maximumLength: 12) { Render.writeOctal(mode, at: $0) }
    }

    /// An address as a JSON string (`"0x7f12a4000000"`).
    mutating func hex(_ value: UInt64) {
        asciiString(maximumLength: 18) { Render.writeHex(value, at: $0) }
    }
}

/// RFC 3339 times read back: what `Render.timestamp` writes, what `?since=` takes and what the
/// command line's AGE reads. `2026-12-07T02:00:00Z`, with a fraction and a `±HH:MM` offset allowed
/// (`t` and `z` too, as RFC 3339 §5.6 permits); nothing else.
public enum RFC3339 {
    /// Seconds since the epoch, or nil when `text` is not an RFC 3339 date-time.
    public static func seconds(_ text: String) -> Double? {
        var text = text
        return text.withUTF8 { parse($0) }
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var at = 0
        func number(_ width: Int) -> Int64? {
            guard at + width <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[at..<at + width] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            at += width
            return value
        }
        func expect(_ accepted: UInt8...) -> Bool {
            guard at < bytes.count, accepted.contains(bytes[at]) else { return false }
            at += 1
            return true
        }
        guard let year = number(4), expect(UInt8(ascii: "-")), let month = number(2), expect(UInt8(ascii: "-")),
            let day = number(2), expect(UInt8(ascii: "T"), UInt8(ascii: "t")),
            let hour = number(2), expect(UInt8(ascii: ":")), let minute = number(2), expect(UInt8(ascii: ":")),
            let second = number(2)
        else { return nil }
        guard (1...12).contains(month), (1...daysIn(month, of: year)).contains(day), hour < 24, minute < 60,
            second <= 60  // a leap second
        else { return nil }
        var fraction = 0.0
        if expect(UInt8(ascii: ".")) {
            var scale = 0.1
            let first = at
            while at < bytes.count, (48...57).contains(bytes[at]) {
                fraction += Double(bytes[at] - 48) * scale
                scale /= 10
                at += 1
            }
            guard at > first else { return nil }
        }
        var offset: Int64 = 0
        if !expect(UInt8(ascii: "Z"), UInt8(ascii: "z")) {
            guard at < bytes.count else { return nil }
            let sign: Int64 = bytes[at] == UInt8(ascii: "-") ? -1 : 1
            guard expect(UInt8(ascii: "+"), UInt8(ascii: "-")), let hours = number(2), expect(UInt8(ascii: ":")),
                let minutes = number(2), hours < 24, minutes < 60
            else { return nil }
            offset = sign * (hours * 3_600 + minutes * 60)
        }
        guard at == bytes.count else { return nil }
        let whole = daysFromCivil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second - offset
        return Double(whole) + fraction
    }

    static func daysIn(_ month: Int64, of year: Int64) -> Int64 {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil, the inverse
    /// of `Render.writeTimestamp`'s).
    static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// Base64 (RFC 4648 §4, padded) of a dump's bytes.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encoded(_ bytes: [UInt8]) -> String {
        let count = (bytes.count + 2) / 3 * 4
        return String(unsafeUninitializedCapacity: count) { out in
            var at = 0
            var index = 0
            while index < bytes.count {
                let remaining = bytes.count - index
                let b0 = UInt32(bytes[index])
                let b1 = remaining > 1 ? UInt32(bytes[index + 1]) : 0
                let b2 = remaining > 2 ? UInt32(bytes[index + 2]) : 0
                let group = b0 << 16 | b1 << 8 | b2
                out[at] = alphabet[Int(group >> 18 & 63)]
                out[at + 1] = alphabet[Int(group >> 12 & 63)]
                out[at + 2] = remaining > 1 ? alphabet[Int(group >> 6 & 63)] : UInt8(ascii: "=")
                out[at + 3] = remaining > 2 ? alphabet[Int(group & 63)] : UInt8(ascii: "=")
                at += 4
                index += 3
            }
            return at
        }
    }
}
