import HTTPServer
import HostScan
import JSON
import SectionRegistry

/// A section as the API shows it (API.md "A section in JSON"); `created` is added after the section's
/// own members when a create answers.
struct SectionJSON: JSONRepresentable, ResponseRepresentable {
    var info: SectionInfo
    var created: Bool? = nil
    /// The server's own mount (`MAJ:MIN`): with it, the members version 1.1 adds (`hostMembers`).
    var mount: String? = nil

    init(_ info: SectionInfo, created: Bool? = nil, mount: String? = nil) {
        self.info = info
        self.created = created
        self.mount = mount
    }

    func write(to json: inout JSONWriter) {
        json.beginObject()
        Self.members(of: info, to: &json)
        if let mount { Self.hostMembers(of: info, mount: mount, to: &json) }
        if let created {
            json.key("created")
            json.bool(created)
        }
        json.endObject()
    }

    /// The members of a section, written straight to bytes: a listing holds up to 10,000 of them.
    static func members(of info: SectionInfo, to json: inout JSONWriter) {
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
        json.octal(info.mode)
        json.key("uid")
        json.int(Int64(info.uid))
        json.key("gid")
        json.int(Int64(info.gid))
        json.key("createdAt")
        json.timestamp(info.createdAt)
        json.key("modifiedAt")
        json.timestamp(info.modifiedAt)
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
}

extension SectionJSON {
    /// The members version 1.1 adds to a section (API-HOST.md "An object in the inventory"):
    /// `href`, `mount`, `size` (its commit) and `unbackedBytes`. The href is written straight into
    /// the writer, the name percent-encoded: a listing holds up to 10,000 of them.
    static func hostMembers(of info: SectionInfo, mount: String, to json: inout JSONWriter) {
        json.key("href")
        json.asciiString(maximumLength: hrefBound(info.name)) { writeHref(info.name, at: $0) }
        json.key("mount")
        json.string(mount)
        json.key("size")
        json.int(info.commit)
        json.key("unbackedBytes")
        json.int(max(0, info.commit - info.allocatedBytes))
    }

    static func hrefBound(_ name: String) -> Int { hrefPrefix.count + 3 * name.utf8.count }

    /// `/api/v1/sections/NAME`, the name percent-encoded, at `start`; returns how many bytes.
    static func writeHref(_ name: String, at start: UnsafeMutablePointer<UInt8>) -> Int {
        var at = start
        for byte in hrefPrefix {
            at.pointee = byte
            at += 1
        }
        for byte in name.utf8 {
            if Hrefs.isUnreserved(byte) {
                at.pointee = byte
                at += 1
            } else {
                at[0] = UInt8(ascii: "%")
                at[1] = hexDigits[Int(byte >> 4)]
                at[2] = hexDigits[Int(byte & 15)]
                at += 3
            }
        }
        return at - start
    }

    private static let hrefPrefix = Array("/api/v1/sections/".utf8)
    private static let hexDigits = Array("0123456789ABCDEF".utf8)
}

/// One member of a section as `SectionJSON` writes it, for a table made without writing the JSON and
/// reading it back (`shm-admin ls` in local mode).
public enum SectionMember: Sendable, Equatable {
    case text(String)
    /// An RFC 3339 time, kept as seconds since the epoch until it is read as text (AGE needs the
    /// seconds, not the text).
    case time(Double)
    case number(Int64)
    case flag(Bool)
    case labels([String: String])
    case null

    /// A text or time member as the JSON writes it.
    public var text: String? {
        switch self {
        case .text(let text): text
        case .time(let seconds): Render.timestamp(seconds)
        default: nil
        }
    }
}

/// The members of a section by their JSON names, for a table that resolves each column's member
/// once instead of comparing names for each of a listing's 100,000 cells.
public enum SectionMemberKey: String, Sendable, CaseIterable {
    case name, kind, managed, namespace, path, state, reserve, commit, allocatedBytes, dataBytes, mode, uid, gid
    case createdAt, modifiedAt, views, mappers, orphan, labels, href, mount, size, unbackedBytes
}

extension SectionJSON {
    /// The member `key` of a section with the version 1.1 members of `mount` (`members(of:to:)` and
    /// `hostMembers(of:mount:to:)` in values; a test holds every key to the JSON).
    static func member(_ key: SectionMemberKey, of info: SectionInfo, mount: String) -> SectionMember {
        switch key {
        case .name: .text(info.name)
        case .kind: .text(info.kind.rawValue)
        case .managed: .flag(info.managed)
        case .namespace: .text(info.namespace.rawValue)
        case .path: .text(info.path)
        case .state: .text(info.state.rawValue)
        case .reserve: info.reserve.map { .number($0) } ?? .null
        case .commit, .size: .number(info.commit)
        case .allocatedBytes: .number(info.allocatedBytes)
        case .dataBytes: .number(info.dataBytes)
        case .mode: .text(ascii(maximumLength: 12) { Render.writeOctal(info.mode, at: $0) })
        case .uid: .number(Int64(info.uid))
        case .gid: .number(Int64(info.gid))
        case .createdAt: .time(info.createdAt)
        case .modifiedAt: .time(info.modifiedAt)
        case .views: .number(Int64(info.views))
        case .mappers: .number(Int64(info.mappers))
        case .orphan: .flag(info.orphan)
        case .labels: .labels(info.labels)
        case .href: .text(ascii(maximumLength: hrefBound(info.name)) { writeHref(info.name, at: $0) })
        case .mount: .text(mount)
        case .unbackedBytes: .number(max(0, info.commit - info.allocatedBytes))
        }
    }

    private static func ascii(maximumLength: Int, _ write: (UnsafeMutablePointer<UInt8>) -> Int) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maximumLength) { buffer in
            String(decoding: buffer[0..<write(buffer.baseAddress!)], as: UTF8.self)
        }
    }
}

/// A section with its views, mappers, holders, locks and leases (`GET /api/v1/sections/{name}`).
struct SectionDetailJSON: JSONRepresentable, ResponseRepresentable {
    var detail: SectionDetail
    /// The server's own mount: with it, the members version 1.1 adds.
    var mount: String? = nil
    /// Each mapper's memory from smaps (version 1.1), in the order of `detail.mappers`; empty: none written.
    var memory: [MappingMemory?] = []

    init(detail: SectionDetail, mount: String? = nil, memory: [MappingMemory?] = []) {
        self.detail = detail
        self.mount = mount
        self.memory = memory
    }

    /// The detail as `GET /api/v1/sections/{name}` gives it (and `shm-admin show` in local mode):
    /// with the host members and each mapper's memory read from smaps under `procDirectory`.
    init(_ detail: SectionDetail, mount: String, procDirectory: String) {
        self.init(
            detail: detail, mount: mount,
            memory: detail.mappers.map {
                MappingMemory.read(procDirectory: procDirectory, pid: $0.pid, start: $0.start)
            })
    }

    func write(to json: inout JSONWriter) {
        json.beginObject()
        SectionJSON.members(of: detail.section, to: &json)
        if let mount { SectionJSON.hostMembers(of: detail.section, mount: mount, to: &json) }
        json.key("viewList")
        json.array(detail.views.lazy.map(ViewJSON.init))
        json.key("mapperList")
        if memory.count == detail.mappers.count && !memory.isEmpty {
            json.array(zip(detail.mappers, memory).lazy.map { MapperJSON(mapper: $0, memory: $1, withMemory: true) })
        } else {
            json.array(detail.mappers.lazy.map { MapperJSON(mapper: $0) })
        }
        json.key("holderList")
        json.array(detail.holders.lazy.map(HolderJSON.init))
        json.key("lockHolders")
        json.array(detail.lockHolders.lazy.map(LockHolderJSON.init))
        json.key("leases")
        json.array(detail.leases.lazy.map(LeaseJSON.init))
        json.endObject()
    }
}

/// One of the server's views.
struct ViewJSON: JSONRepresentable, ResponseRepresentable {
    var view: ViewInfo

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("id")
        json.string(view.id)
        json.key("offset")
        json.int(view.offset)
        json.key("length")
        json.int(view.length)
        json.key("access")
        json.string(view.access.rawValue)
        json.key("address")
        json.hex(UInt64(view.address))
        json.endObject()
    }
}

/// A section's views and the other processes mapping it (`GET …/views`).
struct ViewsJSON: JSONRepresentable, ResponseRepresentable {
    var views: [ViewInfo]
    var mappers: [Mapper]

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("views")
        json.array(views.lazy.map(ViewJSON.init))
        json.key("mappers")
        json.array(mappers.lazy.map { MapperJSON(mapper: $0) })
        json.endObject()
    }
}

/// A mapping of the section in another process; in a detail, with its memory from smaps (null
/// when unreadable).
struct MapperJSON: JSONRepresentable {
    var mapper: Mapper
    var memory: MappingMemory? = nil
    var withMemory = false

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("pid")
        json.int(Int64(mapper.pid))
        json.key("command")
        json.string(mapper.command)
        json.key("start")
        json.hex(mapper.start)
        json.key("end")
        json.hex(mapper.end)
        json.key("offset")
        json.int(mapper.offset)
        json.key("access")
        json.string(mapper.access.rawValue)
        if withMemory {
            for (key, value) in [
                ("rssBytes", memory?.rssBytes), ("pssBytes", memory?.pssBytes), ("swapBytes", memory?.swapBytes),
            ] {
                json.key(data: key)
                if let value { json.int(value) } else { json.null() }
            }
        }
        json.endObject()
    }
}

/// A process holding the section open.
struct HolderJSON: JSONRepresentable {
    var holder: Holder

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("pid")
        json.int(Int64(holder.pid))
        json.key("command")
        json.string(holder.command)
        json.key("fd")
        json.int(Int64(holder.fd))
        json.endObject()
    }
}

/// A record lock on the section; `pid` is -1 for an OFD lock no readable process holds.
struct LockHolderJSON: JSONRepresentable {
    var holder: LockHolder

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("pid")
        json.int(Int64(holder.pid ?? -1))
        json.key("mode")
        json.string(holder.mode.rawValue)
        json.key("type")
        json.string(holder.type)
        json.endObject()
    }
}

/// A lease of the section lock.
struct LeaseJSON: JSONRepresentable, ResponseRepresentable {
    var lease: LeaseInfo

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("lease")
        json.string(lease.id)
        json.key("mode")
        json.string(lease.mode.rawValue)
        json.key("expiresAt")
        json.timestamp(lease.expiresAt, milliseconds: true)
        json.endObject()
    }
}
