import HTTPServer
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
        json.asciiString { writeOctal(info.mode, to: &$0) }
        json.key("uid")
        json.int(Int64(info.uid))
        json.key("gid")
        json.int(Int64(info.gid))
        json.key("createdAt")
        json.asciiString { writeTimestamp(info.createdAt, milliseconds: false, to: &$0) }
        json.key("modifiedAt")
        json.asciiString { writeTimestamp(info.modifiedAt, milliseconds: false, to: &$0) }
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

    static func octal(_ mode: UInt32) -> String {
        var bytes: [UInt8] = []
        writeOctal(mode, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// At least four octal digits: `0600`, `1777`.
    static func writeOctal(_ mode: UInt32, to out: inout [UInt8]) {
        var digits: [UInt8] = []
        var rest = mode
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(rest & 7))
            rest >>= 3
        } while rest > 0
        while digits.count < 4 { digits.append(UInt8(ascii: "0")) }
        out.append(contentsOf: digits.reversed())
    }

    /// RFC 3339 in UTC: `2026-11-23T10:00:00Z`.
    static func timestamp(_ seconds: Double, milliseconds: Bool = false) -> String {
        var bytes: [UInt8] = []
        writeTimestamp(seconds, milliseconds: milliseconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func writeTimestamp(_ seconds: Double, milliseconds: Bool, to out: inout [UInt8]) {
        var whole = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        func digits(_ value: Int32, _ width: Int) {
            var divisor: Int32 = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: (value / divisor) % 10))
                divisor /= 10
            }
        }
        let year = Int64(parts.tm_year) + 1900
        if (0...9999).contains(year) { digits(Int32(year), 4) } else { JSONValue.writeInteger(year, to: &out) }
        out.append(UInt8(ascii: "-"))
        digits(parts.tm_mon + 1, 2)
        out.append(UInt8(ascii: "-"))
        digits(parts.tm_mday, 2)
        out.append(UInt8(ascii: "T"))
        digits(parts.tm_hour, 2)
        out.append(UInt8(ascii: ":"))
        digits(parts.tm_min, 2)
        out.append(UInt8(ascii: ":"))
        digits(parts.tm_sec, 2)
        if milliseconds {
            out.append(UInt8(ascii: "."))
            digits(Int32((seconds - seconds.rounded(.down)) * 1000), 3)
        }
        out.append(UInt8(ascii: "Z"))
    }
}
