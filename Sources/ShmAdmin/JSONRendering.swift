import HTTPServer
import JSON
import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// How the core's values look in JSON (API.md "A section in JSON", docs/API-DETAILS.md).
enum Render {
    /// A section as a JSON object; `extra` adds members after the section's own.
    static func section(_ info: SectionInfo, extra: (inout JSONWriter) -> Void = { _ in }) -> [UInt8] {
        var json = JSONWriter(capacity: 512)
        json.beginObject()
        sectionMembers(info, to: &json)
        extra(&json)
        json.endObject()
        return json.finish()
    }

    /// The members of a section (API.md "A section in JSON"), written straight to bytes: a listing
    /// holds up to 10,000 of them.
    static func sectionMembers(_ info: SectionInfo, to json: inout JSONWriter) {
        json.key("name")
        json.string(info.name)
        json.key("kind")
        json.string(info.kind.rawValue)
        json.key("managed")
        json.bool(info.managed)
        json.key("namespace")
        json.string(info.namespace.rawValue)
        json.key("path")
        json.string(info.path)
        json.key("state")
        json.string(info.state.rawValue)
        json.key("reserve")
        if let reserve = info.reserve { json.int(reserve) } else { json.null() }
        json.key("commit")
        json.int(info.commit)
        json.key("allocatedBytes")
        json.int(info.allocatedBytes)
        json.key("dataBytes")
        json.int(info.dataBytes)
        json.key("mode")
        json.asciiString(maximumLength: 12) { writeOctal(info.mode, at: $0) }
        json.key("uid")
        json.int(Int64(info.uid))
        json.key("gid")
        json.int(Int64(info.gid))
        json.key("createdAt")
        json.asciiString(maximumLength: timestampBound) { writeTimestamp(info.createdAt, milliseconds: false, at: $0) }
        json.key("modifiedAt")
        json.asciiString(maximumLength: timestampBound) { writeTimestamp(info.modifiedAt, milliseconds: false, at: $0) }
        json.key("views")
        json.int(Int64(info.views))
        json.key("mappers")
        json.int(Int64(info.mappers))
        json.key("orphan")
        json.bool(info.orphan)
        json.key("labels")
        json.beginObject()
        for (key, value) in info.labels.sorted(by: { $0.key < $1.key }) {
            json.key(data: key)
            json.string(value)
        }
        json.endObject()
    }

    static func detail(_ detail: SectionDetail) -> [UInt8] {
        section(detail.section) { json in
            json.key("viewList")
            json.value(.array(detail.views.map(view)))
            json.key("mapperList")
            json.value(.array(detail.mappers.map(mapper)))
            json.key("holderList")
            json.value(.array(detail.holders.map(holder)))
            json.key("lockHolders")
            json.value(
                .array(
                    detail.lockHolders.map {
                        .object([
                            ("pid", $0.pid.map { .int(Int64($0)) } ?? .int(-1)),
                            ("mode", .string($0.mode.rawValue)),
                            ("type", .string($0.type)),
                        ])
                    }))
            json.key("leases")
            json.value(.array(detail.leases.map(lease)))
        }
    }

    static func view(_ view: ViewInfo) -> JSONValue {
        .object([
            ("id", .string(view.id)), ("offset", .int(view.offset)), ("length", .int(view.length)),
            ("access", .string(view.access.rawValue)), ("address", .string(hex(UInt64(view.address)))),
        ])
    }

    static func mapper(_ mapper: Mapper) -> JSONValue {
        .object([
            ("pid", .int(Int64(mapper.pid))), ("command", .string(mapper.command)),
            ("start", .string(hex(mapper.start))),
            ("end", .string(hex(mapper.end))), ("offset", .int(mapper.offset)),
            ("access", .string(mapper.access.rawValue)),
        ])
    }

    static func holder(_ holder: Holder) -> JSONValue {
        .object([
            ("pid", .int(Int64(holder.pid))), ("command", .string(holder.command)), ("fd", .int(Int64(holder.fd))),
        ])
    }

    static func lease(_ lease: LeaseInfo) -> JSONValue {
        .object([
            ("lease", .string(lease.id)), ("mode", .string(lease.mode.rawValue)),
            ("expiresAt", .string(timestamp(lease.expiresAt, milliseconds: true))),
        ])
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

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
