import HTTPServer
import HostScan
import JSON
import SectionRegistry

/// `GET /api/v1/inventory`: every shared-memory object on the host, all kinds and mounts.
extension API {
    func inventory(_ request: HTTPRequest) throws -> HTTPResponse {
        let query = Query(request: request)
        let kind = try query.choice("kind", HostObject.Kind.allCases.map(\.rawValue)).flatMap(HostObject.Kind.init)
        let orphan = try query.bool("orphan")
        let text = request.query["q"]
        let uid = try query.integer("uid", range: 0...Int64(UInt32.max))
        let limit = Int(try query.integer("limit", default: 1000, range: 0...100_000)!)
        let offset = Int(try query.integer("offset", default: 0, range: 0...Int64.max)!)
        let snapshot = host.snapshot()
        let mount = try request.query["mount"].map { text throws(APIFailure) in try mountDevice(text, snapshot) }
        let inventory = try InventoryJSON.of(
            snapshot, registry: registry,
            InventoryFilter(kind: kind, orphan: orphan, mount: mount, text: text, uid: uid),
            limit: limit, offset: offset)
        return .json(inventory, capacity: 256 + inventory.objects.count * 640)
    }
}

/// The inventory's filters (`?kind=`, `?orphan=`, `?mount=`, `?q=`, `?uid=`), already checked.
struct InventoryFilter {
    var kind: HostObject.Kind?
    var orphan: Bool?
    /// The mount, `host` already resolved; `.some(nil)`: a mount the host does not have.
    var mount: DeviceID??
    var text: String?
    var uid: Int64?

    func admits(_ object: HostObject) -> Bool {
        (kind == nil || object.kind == kind) && (orphan == nil || object.orphan == orphan)
            && (mount == nil || object.mount == mount!) && (text == nil || object.name?.contains(text!) == true)
            && (uid == nil || Int64(object.uid) == uid!)
    }
}

extension InventoryJSON {
    /// The inventory of `snapshot` (the server's own directory from `registry`, as version 1 lists
    /// it), filtered, largest first, one page: what `GET /api/v1/inventory` and `shm-admin ls --all`
    /// answer.
    static func of(
        _ snapshot: HostSnapshot, registry: SectionRegistry, _ filter: InventoryFilter, limit: Int, offset: Int
    ) throws -> InventoryJSON {
        // A mount's objects (shm, semaphore) come from the directories' listings and the registry's;
        // a filter on another kind leaves them all out, so they are not made.
        let files = filter.kind.map { $0 == .shm || $0 == .semaphore } ?? true
        let sections = files ? try registry.list(ListFilter(limit: .max)).sections : []
        var objects = HostObjects.all(snapshot, own: sections, mountFiles: files)
        objects.removeAll { !filter.admits($0) }
        // Sorted by index: an object is a large value, and a sort would move each many times.
        let order = objects.indices.sorted {
            (objects[$0].allocatedBytes, objects[$1].href) > (objects[$1].allocatedBytes, objects[$0].href)
        }
        var byKind = Dictionary(uniqueKeysWithValues: HostObject.Kind.allCases.map { ($0.rawValue, (0, Int64(0))) })
        var byMount = Dictionary(uniqueKeysWithValues: snapshot.mounts.map { ($0.device, (0, Int64(0))) })
        for object in objects {
            byKind[object.kind.rawValue]!.0 += 1
            byKind[object.kind.rawValue]!.1 += object.allocatedBytes
            if let device = object.mount {
                byMount[device, default: (0, 0)].0 += 1
                byMount[device, default: (0, 0)].1 += object.allocatedBytes
            }
        }
        return InventoryJSON(
            objects: ArraySlice(order.dropFirst(offset).prefix(limit).map { objects[$0] }), total: objects.count,
            byKind: HostObject.Kind.allCases.map { ($0.rawValue, byKind[$0.rawValue]!) },
            byMount: byMount.sorted { $0.key < $1.key }.map { ($0.key.description, $0.value) })
    }
}

/// `{"objects":[OBJECT…],"total":N,"byKind":{KIND:{"count","bytes"}},"byMount":{ID:{"count","bytes"}}}`.
struct InventoryJSON: JSONRepresentable {
    var objects: ArraySlice<HostObject>
    var total: Int
    var byKind: [(String, (Int, Int64))]
    var byMount: [(String, (Int, Int64))]

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("objects")
        json.array(objects)
        json.key("total")
        json.int(Int64(total))
        json.key("byKind")
        Self.counts(byKind, to: &json)
        json.key("byMount")
        Self.counts(byMount, to: &json)
        json.endObject()
    }

    /// `{KEY:{"count","bytes"}…}`.
    private static func counts(_ entries: [(String, (Int, Int64))], to json: inout JSONWriter) {
        json.beginObject()
        for (key, (count, bytes)) in entries {
            json.key(data: key)
            json.beginObject()
            json.key("count")
            json.int(Int64(count))
            json.key("bytes")
            json.int(bytes)
            json.endObject()
        }
        json.endObject()
    }
}
