import HTTPServer
import HostScan
import JSON
import SectionRegistry

/// An object of the inventory (API-HOST.md "An object in the inventory"), of any kind: a file of
/// some shared-memory mount, a System V segment, a memfd or an unlinked object.
struct HostObject: Sendable, JSONRepresentable {
    enum Kind: String, CaseIterable { case shm, semaphore, sysv, memfd, unlinked }

    var kind: Kind
    var href: String
    var mount: DeviceID?
    var name: String?
    var path: String?
    var size: Int64
    var allocatedBytes: Int64
    /// Processes other than the server holding a descriptor, mapping it.
    var holders: Int
    var mappers: Int
    var orphan: Bool
    var container: Container
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var modifiedAt: Double?
    /// The ctime, for files of other mounts and unlinked objects (as version 1 gives foreign sections).
    var createdAt: Double? = nil
    /// Version 1's view of it, for the server's own directory.
    var section: SectionInfo?
    var sysv: SysVSegment?
    /// Device and inode, for files, memfds and unlinked objects.
    var objectID: ObjectID?

    var unbackedBytes: Int64 { max(0, size - allocatedBytes) }

    /// The members of "A section in JSON" (null where one does not apply), then the inventory's.
    func writeMembers(to json: inout JSONWriter) {
        if let section {
            SectionJSON.members(of: section, to: &json)
        } else {
            json.key("name")
            if let name { json.string(name) } else { json.null() }
            json.key("kind")
            json.string(kind.rawValue)
            json.key("managed")
            json.bool(false)
            json.key("namespace")
            if kind == .shm || kind == .semaphore {
                json.string(mode & 0o066 != 0 ? "global" : "local")  // as version 1 derives a foreign section's
            } else {
                json.null()
            }
            json.key("path")
            if let path { json.string(path) } else { json.null() }
            json.key("state")
            json.string("ok")
            json.key("reserve")
            json.null()
            json.key("commit")
            if kind == .shm || kind == .semaphore { json.int(size) } else { json.null() }
            json.key("allocatedBytes")
            json.int(allocatedBytes)
            json.key("dataBytes")
            json.null()
            json.key("mode")
            json.octal(mode)
            json.key("uid")
            json.int(Int64(uid))
            json.key("gid")
            json.int(Int64(gid))
            for (key, seconds) in [("createdAt", createdAt), ("modifiedAt", modifiedAt)] {
                json.key(data: key)
                if let seconds { json.timestamp(seconds) } else { json.null() }
            }
            json.key("views")
            json.int(0)
            json.key("mappers")
            json.int(Int64(mappers))
            json.key("orphan")
            json.bool(orphan)
            json.key("labels")
            json.beginObject()
            json.endObject()
        }
        json.key("href")
        json.string(href)
        json.key("mount")
        if let mount { json.string(mount.description) } else { json.null() }
        json.key("size")
        json.int(size)
        json.key("unbackedBytes")
        json.int(unbackedBytes)
        json.key("holders")
        json.int(Int64(holders))
        json.key("container")
        json.value(ContainerJSON(container: container, memoryMax: false))
        if let sysv {
            json.key("ipc")
            json.int(Int64(clamping: sysv.ipc))
            json.key("key")
            json.int(Int64(sysv.key))
            json.key("shmid")
            json.int(Int64(sysv.shmid))
            json.key("nattch")
            json.int(sysv.nattch)
        }
    }

    func write(to json: inout JSONWriter) {
        json.beginObject()
        writeMembers(to: &json)
        json.endObject()
    }
}

/// Building the inventory's objects from a host snapshot (and, for the server's own directory,
/// version 1's listing, so both APIs agree on every member they share).
enum HostObjects {
    /// Every object: the server's own directory, the other mounts, System V, memfd and unlinked
    /// (without `mountFiles`, the last three only).
    static func all(_ snapshot: HostSnapshot, own sections: [SectionInfo], mountFiles: Bool = true) -> [HostObject] {
        var objects: [HostObject] = []
        objects.reserveCapacity(
            snapshot.mounts.reduce(sections.count + snapshot.sysv.count + snapshot.objects.count) {
                $0 + $1.entries.count
            })
        for mount in snapshot.mounts where mountFiles {
            if mount.isServer {
                objects += own(sections, mount: mount, snapshot)
            } else {
                let prefix = Hrefs.filesPrefix(of: mount.device)
                for entry in mount.entries { objects.append(file(mount, entry, snapshot, hrefPrefix: prefix)) }
            }
        }
        objects += sysv(snapshot)
        objects += unlinked(snapshot)
        return objects
    }

    /// Distinct processes other than the server.
    static func others(_ pids: [Int32], _ snapshot: HostSnapshot) -> Int {
        Set(pids).subtracting([snapshot.ownPid]).count
    }

    static func own(_ sections: [SectionInfo], mount: ShmMount, _ snapshot: HostSnapshot) -> [HostObject] {
        sections.map { section in
            let id = ObjectID(device: mount.device, inode: section.inode)
            let seen = snapshot.objects[id]
            return HostObject(
                kind: section.kind == .semaphore ? .semaphore : .shm,
                href: "/api/v1/sections/" + Hrefs.segment(section.name), mount: mount.device, name: section.name,
                path: section.path, size: section.commit, allocatedBytes: section.allocatedBytes,
                holders: others(seen?.holders.map(\.pid) ?? [], snapshot), mappers: section.mappers,
                orphan: section.orphan, container: mount.container, mode: section.mode, uid: section.uid,
                gid: section.gid, modifiedAt: section.modifiedAt, section: section, objectID: id)
        }
    }

    /// The files of another mount, from its directory as the scan listed it.
    static func files(of mount: ShmMount, _ snapshot: HostSnapshot) -> [HostObject] {
        let prefix = Hrefs.filesPrefix(of: mount.device)
        return mount.entries.map { file(mount, $0, snapshot, hrefPrefix: prefix) }
    }

    /// `hrefPrefix`: `Hrefs.filesPrefix(of: mount.device)`, made once by a caller that makes many.
    static func file(
        _ mount: ShmMount, _ entry: MountEntry, _ snapshot: HostSnapshot, hrefPrefix: String? = nil
    ) -> HostObject {
        let id = ObjectID(device: mount.device, inode: entry.inode)
        let seen = snapshot.objects[id]
        return HostObject(
            kind: entry.name.hasPrefix("sem.") ? .semaphore : .shm,
            href: (hrefPrefix ?? Hrefs.filesPrefix(of: mount.device)) + Hrefs.segment(entry.name),
            mount: mount.device,
            name: entry.name, path: "/dev/shm/" + entry.name, size: entry.facts.size,
            allocatedBytes: entry.facts.allocatedBytes, holders: others(seen?.holders.map(\.pid) ?? [], snapshot),
            mappers: others(seen?.mappers.map(\.pid) ?? [], snapshot), orphan: !snapshot.isInUse(id),
            container: mount.container, mode: entry.facts.mode, uid: entry.facts.uid, gid: entry.facts.gid,
            modifiedAt: entry.facts.modifiedAt, createdAt: entry.facts.changedAt, objectID: id)
    }

    /// The System V segments of the server's IPC namespace. Memory in use is `rss + swap`.
    static func sysv(_ snapshot: HostSnapshot) -> [HostObject] {
        // A process of each IPC namespace, for the container of segments no one attaches.
        var members: [UInt64: Int32] = [:]
        if snapshot.sysv.contains(where: { $0.ipc != snapshot.ownIPCNamespace }) {
            for (pid, namespaces) in snapshot.processes {
                if let ipc = namespaces.ipc { members[ipc] = min(members[ipc] ?? pid, pid) }
            }
        }
        return snapshot.sysv.map { segment in
            let mappers = snapshot.sysvMappers[segment.id]?.map(\.pid) ?? []
            let member = mappers.first ?? (segment.ipc == snapshot.ownIPCNamespace ? nil : members[segment.ipc])
            return HostObject(
                kind: .sysv, href: "/api/v1/sysv/\(segment.ipc)/\(segment.shmid)", mount: nil,
                name: keyText(segment.key), path: nil, size: segment.size,
                allocatedBytes: segment.rssBytes + segment.swapBytes, holders: 0,
                mappers: max(others(mappers, snapshot), mappers.isEmpty ? Int(segment.nattch) : 0),
                orphan: segment.nattch == 0, container: member.map(snapshot.container(of:)) ?? .none,
                mode: segment.mode & 0o777, uid: segment.uid, gid: segment.gid,
                modifiedAt: Double(segment.changedAt), sysv: segment)
        }
    }

    /// A System V key as `ipcs` prints it, `0x%08x`.
    static func keyText(_ key: Int32) -> String {
        let hex = String(UInt32(bitPattern: key), radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - hex.count)) + hex
    }

    /// memfd objects and objects unlinked while something holds or maps them.
    static func unlinked(_ snapshot: HostSnapshot) -> [HostObject] {
        snapshot.objects.values.filter { $0.kind != .named }.sorted { $0.id < $1.id }.map { unlinked($0, snapshot) }
    }

    static func unlinked(_ seen: SeenObject, _ snapshot: HostSnapshot) -> HostObject {
        let extent = seen.mappers.map { Int64($0.offset) + Int64($0.end - $0.start) }.max() ?? 0
        let facts = seen.facts
        let firstPid = seen.holders.first?.pid ?? seen.mappers.first?.pid
        let name = seen.name
        return HostObject(
            kind: seen.kind == .memfd ? .memfd : .unlinked,
            href: "/api/v1/unlinked/\(seen.id.device.major)-\(seen.id.device.minor):\(seen.id.inode)",
            mount: seen.kind == .memfd ? nil : seen.id.device, name: name.isEmpty ? nil : name,
            path: seen.kind == .memfd ? nil : seen.path, size: facts?.size ?? extent,
            allocatedBytes: facts?.allocatedBytes ?? 0, holders: others(seen.holders.map(\.pid), snapshot),
            mappers: others(seen.mappers.map(\.pid), snapshot), orphan: false,
            container: firstPid.map(snapshot.container(of:)) ?? .none, mode: facts?.mode ?? 0, uid: facts?.uid ?? 0,
            gid: facts?.gid ?? 0, modifiedAt: facts?.modifiedAt, createdAt: facts?.changedAt, objectID: seen.id)
    }
}

/// A container (API-HOST.md "More words"); mounts carry its `memoryMax`, objects do not.
struct ContainerJSON: JSONRepresentable {
    var container: Container
    var memoryMax: Bool

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("runtime")
        json.string(container.runtime.rawValue)
        json.key("id")
        json.string(container.id)
        json.key("pod")
        json.string(container.pod)
        if memoryMax {
            json.key("memoryMax")
            if let limit = container.memoryMax { json.int(limit) } else { json.null() }
        }
        json.endObject()
    }
}

/// API-HOST.md "A mount in JSON". Capacity members are null when the mount could not be reached.
struct MountJSON: JSONRepresentable, ResponseRepresentable {
    var mount: ShmMount

    func write(to json: inout JSONWriter) {
        let exposure = mount.exposureBytes
        json.beginObject()
        json.key("id")
        json.string(mount.device.description)
        json.key("path")
        json.string(mount.path)
        json.key("host")
        json.bool(mount.isServer)
        let capacity = mount.capacity
        for (key, value) in [
            ("sizeBytes", capacity?.sizeBytes), ("usedBytes", capacity?.usedBytes), ("freeBytes", capacity?.freeBytes),
            ("inodes", capacity?.inodes), ("inodesFree", capacity?.inodesFree),
        ] {
            json.key(data: key)
            if let value { json.int(value) } else { json.null() }
        }
        json.key("objects")
        json.int(Int64(mount.entries.count))
        json.key("exposureBytes")
        json.int(exposure)
        json.key("exposed")
        json.bool(mount.isExposed)
        json.key("processes")
        json.int(Int64(mount.pids.count))
        json.key("pids")
        json.beginArray()
        for pid in mount.pids.prefix(16) { json.int(Int64(pid)) }
        json.endArray()
        json.key("container")
        json.value(ContainerJSON(container: mount.container, memoryMax: true))
        json.endObject()
    }
}

/// `{"mounts":[MOUNT…]}`.
struct MountListJSON: JSONRepresentable, ResponseRepresentable {
    var mounts: [ShmMount]

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("mounts")
        json.array(mounts.lazy.map(MountJSON.init))
        json.endObject()
    }
}

/// `{"sections":[OBJECT…],"total":N}`: another mount's objects, in the shape of a section listing.
struct HostObjectListJSON: JSONRepresentable, ResponseRepresentable {
    var objects: ArraySlice<HostObject>
    var total: Int

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("sections")
        json.array(objects)
        json.key("total")
        json.int(Int64(total))
        json.endObject()
    }
}

/// A `lockHolders` entry; `pid` -1 for an OFD lock.
struct HostLockJSON: JSONRepresentable {
    var lock: LockEntry

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("pid")
        json.int(Int64(lock.pid ?? -1))
        json.key("mode")
        json.string(lock.exclusive ? "exclusive" : "shared")
        json.key("type")
        json.string(lock.type)
        json.endObject()
    }
}

/// An object with its lists (a detail, any `href`): `mapperList` (with each mapping's memory,
/// read from smaps when this value is made), `holderList`, `lockHolders`; a System V segment's
/// own members too.
struct HostObjectDetailJSON: JSONRepresentable, ResponseRepresentable {
    var object: HostObject
    var mappers: [MapperJSON]
    var holders: [HolderJSON]
    var locks: [LockEntry]

    init(
        _ object: HostObject, mappers: [Mapping], holders: [Holding], locks: [LockEntry], _ snapshot: HostSnapshot,
        procDirectory: String
    ) {
        self.object = object
        self.mappers = mappers.map {
            MapperJSON(
                mapper: Mapper($0, snapshot),
                memory: MappingMemory.read(procDirectory: procDirectory, pid: $0.pid, start: $0.start), withMemory: true
            )
        }
        self.holders = holders.map { HolderJSON(holder: Holder($0, snapshot)) }
        self.locks = locks
    }

    func write(to json: inout JSONWriter) {
        json.beginObject()
        object.writeMembers(to: &json)
        if let segment = object.sysv {
            json.key("cpid")
            json.int(Int64(segment.cpid))
            json.key("lpid")
            json.int(Int64(segment.lpid))
            json.key("rssBytes")
            json.int(segment.rssBytes)
            json.key("swapBytes")
            json.int(segment.swapBytes)
            for (key, seconds) in [
                ("attachedAt", segment.attachedAt), ("detachedAt", segment.detachedAt),
                ("changedAt", segment.changedAt),
            ] {
                json.key(data: key)
                if seconds > 0 { json.timestamp(Double(seconds)) } else { json.null() }
            }
        }
        json.key("mapperList")
        json.array(mappers)
        json.key("holderList")
        json.array(holders)
        json.key("lockHolders")
        json.array(locks.lazy.map(HostLockJSON.init))
        json.endObject()
    }
}
