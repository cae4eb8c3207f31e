import HTTPServer
import SectionRegistry

#if canImport(Glibc)
    import Glibc
#endif

/// How the core's values look in JSON (API.md "A section in JSON", docs/API-DETAILS.md).
enum Render {
    static func section(_ info: SectionInfo) -> [(String, JSONValue)] {
        [
            ("name", .string(info.name)), ("kind", .string(info.kind.rawValue)), ("managed", .bool(info.managed)),
            ("namespace", .string(info.namespace.rawValue)), ("path", .string(info.path)),
            ("state", .string(info.state.rawValue)), ("reserve", info.reserve.map { .int($0) } ?? .null),
            ("commit", .int(info.commit)), ("allocatedBytes", .int(info.allocatedBytes)),
            ("dataBytes", .int(info.dataBytes)), ("mode", .string(octal(info.mode))), ("uid", .int(Int64(info.uid))),
            ("gid", .int(Int64(info.gid))), ("createdAt", .string(timestamp(info.createdAt))),
            ("modifiedAt", .string(timestamp(info.modifiedAt))), ("views", .int(Int64(info.views))),
            ("mappers", .int(Int64(info.mappers))), ("orphan", .bool(info.orphan)),
            ("labels", .object(info.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
        ]
    }

    static func detail(_ detail: SectionDetail) -> JSONValue {
        .object(
            section(detail.section) + [
                ("viewList", .array(detail.views.map(view))),
                ("mapperList", .array(detail.mappers.map(mapper))),
                ("holderList", .array(detail.holders.map(holder))),
                (
                    "lockHolders",
                    .array(
                        detail.lockHolders.map {
                            .object([
                                ("pid", $0.pid.map { .int(Int64($0)) } ?? .int(-1)),
                                ("mode", .string($0.mode.rawValue)),
                                ("type", .string($0.type)),
                            ])
                        })
                ),
                ("leases", .array(detail.leases.map(lease))),
            ])
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
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// RFC 3339 in UTC: `2026-11-23T10:00:00Z`.
    static func timestamp(_ seconds: Double, milliseconds: Bool = false) -> String {
        var whole = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var text = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
        text += "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        if milliseconds {
            let millis = Int((seconds - seconds.rounded(.down)) * 1000)
            text += "." + String(repeating: "0", count: 3 - String(millis).count) + String(millis)
        }
        return text + "Z"
    }
}
