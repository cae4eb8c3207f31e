import HTTPServer
import HostScan
import JSON
import SectionRegistry

/// API-HOST.md's mounts: every tmpfs some process sees at /dev/shm, and the server's own directory.
extension API {
    func listMounts(_ request: HTTPRequest) throws -> MountListJSON {
        MountListJSON(mounts: host.snapshot().mounts)
    }

    func mountDetail(_ request: HTTPRequest) throws -> MountJSON {
        MountJSON(mount: try requestedMount(request).0)
    }

    /// The server's own mount answers as `GET /api/v1/sections`; another mount's files in the same
    /// shape, with the same query.
    func listMountSections(_ request: HTTPRequest) throws -> HTTPResponse {
        let (mount, snapshot) = try requestedMount(request)
        if mount.isServer { return try listSections(request) }
        let query = Query(request: request)
        let kind = try query.choice("kind", ["shm", "semaphore"])
        let managed = try query.bool("managed")
        let orphan = try query.bool("orphan")
        let text = request.query["q"]
        let limit = Int(try query.integer("limit", default: 1000, range: 0...10_000)!)
        let offset = Int(try query.integer("offset", default: 0, range: 0...Int64.max)!)
        let objects = HostObjects.files(of: mount, snapshot).filter { object in
            (kind == nil || object.kind.rawValue == kind) && managed != true
                && (orphan == nil || object.orphan == orphan)
                && (text == nil || object.name?.contains(text!) == true)
        }
        return .json(
            HostObjectListJSON(objects: objects.dropFirst(offset).prefix(limit), total: objects.count),
            capacity: 64 + min(limit, objects.count) * 600)
    }

    /// The server's own mount answers as `GET /api/v1/sections/{name}`; another mount's file with
    /// its mappers (and their memory), holders and locks, pids as the host sees them.
    func mountSectionDetail(_ request: HTTPRequest) throws -> HTTPResponse {
        let (mount, snapshot) = try requestedMount(request)
        if mount.isServer { return try sectionDetail(request).response() }
        return try Self.mountObjectDetail(
            mount, named: request.parameter("name") ?? "", snapshot, procDirectory: host.configuration.procDirectory
        ).response()
    }

    /// Another mount's file with its mappers, holders and locks (`GET /api/v1/mounts/{mount}/sections/{name}`).
    static func mountObjectDetail(
        _ mount: ShmMount, named name: String, _ snapshot: HostSnapshot, procDirectory: String
    )
        throws(APIFailure) -> HostObjectDetailJSON
    {
        guard let entry = mount.entries.first(where: { $0.name == name }) else {
            throw APIFailure(
                Problems.make(
                    404, "not-found", "Not found", "mount \(mount.device) has no object '\(name.prefix(256))'"))
        }
        let object = HostObjects.file(mount, entry, snapshot)
        let seen = object.objectID.flatMap { snapshot.objects[$0] }
        return HostObjectDetailJSON(
            object, mappers: seen?.mappers ?? [], holders: seen?.holders ?? [],
            locks: object.objectID.flatMap { snapshot.locks[$0] } ?? [], snapshot, procDirectory: procDirectory)
    }

    /// The server's own mount: as `DELETE /api/v1/sections/{name}` (adoption rules included).
    /// Another mount's file: unlinked, decided on a pass made for it — 409 with the pids while any
    /// process but the server maps, holds or locks it, unless `?force=true`.
    func deleteMountSection(_ request: HTTPRequest) throws -> HTTPResponse {
        let force = try Query(request: request).bool("force") ?? false
        let text = request.parameter("mount") ?? ""
        let cached = host.snapshot()
        guard let device = try mountDevice(text, cached) else {
            throw APIFailure(
                Problems.make(404, "not-found", "Not found", "no shared-memory mount '\(text.prefix(64))'"))
        }
        if cached.mount(device)?.isServer == true { return try deleteSection(request) }
        let snapshot = host.freshSnapshot()
        let name = request.parameter("name") ?? ""
        guard let mount = snapshot.mount(device), let entry = mount.entries.first(where: { $0.name == name }) else {
            throw APIFailure(
                Problems.make(404, "not-found", "Not found", "mount \(device) has no object '\(name.prefix(256))'"))
        }
        let id = ObjectID(device: device, inode: entry.inode)
        let seen = snapshot.objects[id]
        var users = Set((seen?.mappers.map(\.pid) ?? []) + (seen?.holders.map(\.pid) ?? []))
        users.formUnion(snapshot.locks[id]?.compactMap(\.pid) ?? [])
        users.remove(snapshot.ownPid)
        let lockedByUnknown = snapshot.locks[id]?.contains { $0.pid == nil } ?? false
        if (!users.isEmpty || lockedByUnknown) && !force {
            throw APIFailure(
                Problems.make(
                    409, "section-mapped", "Object is in use",
                    "'\(name.prefix(256))' on mount \(device) is mapped, open or locked by other processes; ?force=true unlinks it anyway",
                    [("pids", .array(users.sorted().map { .int(Int64($0)) }))]))
        }
        let removed = try refusedAsForbidden {
            try GuardedDelete.unlink(name, in: mount, inode: entry.inode)
        }
        host.invalidate()
        guard removed else {
            throw APIFailure(
                Problems.make(404, "not-found", "Not found", "'\(name.prefix(256))' on mount \(device) is gone"))
        }
        return .empty()
    }

    /// The `{mount}` of the URL, `MAJ:MIN` or `host`, in a fresh-enough snapshot.
    func requestedMount(_ request: HTTPRequest) throws(APIFailure) -> (ShmMount, HostSnapshot) {
        let snapshot = host.snapshot()
        return (try Self.mount(request.parameter("mount") ?? "", snapshot), snapshot)
    }

    /// The mount `text` names (`MAJ:MIN` or `host`) in `snapshot`; 404 when it has none such.
    static func mount(_ text: String, _ snapshot: HostSnapshot) throws(APIFailure) -> ShmMount {
        guard let device = try mountDevice(text, snapshot), let mount = snapshot.mount(device) else {
            throw APIFailure(
                Problems.make(404, "not-found", "Not found", "no shared-memory mount '\(text.prefix(64))'"))
        }
        return mount
    }

    /// `host` (the server's own mount) or `MAJ:MIN`; 400 for anything else.
    func mountDevice(_ text: String, _ snapshot: HostSnapshot) throws(APIFailure) -> DeviceID? {
        try Self.mountDevice(text, snapshot)
    }

    static func mountDevice(_ text: String, _ snapshot: HostSnapshot) throws(APIFailure) -> DeviceID? {
        if text == "host" { return snapshot.mounts.first { $0.isServer }?.device }
        guard let device = DeviceID(Substring(text)) else {
            throw APIFailure(
                Problems.badRequest("a mount is 'host' or its device as MAJ:MIN, not '\(text.prefix(64))'"))
        }
        return device
    }
}
