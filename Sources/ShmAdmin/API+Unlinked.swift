import HTTPServer
import HostScan
import JSON

/// `GET /api/v1/unlinked/{device}:{inode}[/data]`: a memfd or an unlinked object, by device
/// (`MAJ-MIN`) and inode, with the processes that keep it, and its bytes.
extension API {
    func unlinkedDetail(_ request: HTTPRequest) throws -> HostObjectDetailJSON {
        let snapshot = host.snapshot()
        return Self.unlinkedDetail(
            try requestedUnlinked(request, snapshot), snapshot, procDirectory: host.configuration.procDirectory)
    }

    /// A memfd or unlinked object with its holders, mappers and locks.
    static func unlinkedDetail(_ seen: SeenObject, _ snapshot: HostSnapshot, procDirectory: String)
        -> HostObjectDetailJSON
    {
        HostObjectDetailJSON(
            HostObjects.unlinked(seen, snapshot), mappers: seen.mappers, holders: seen.holders,
            locks: snapshot.locks[seen.id] ?? [], snapshot, procDirectory: procDirectory)
    }

    /// Read through a holder's `/proc/PID/fd/N` or a mapper's `/proc/PID/map_files/…`; 404 once no
    /// process keeps it.
    func unlinkedData(_ request: HTTPRequest) throws -> HTTPResponse {
        let seen = try requestedUnlinked(request, host.snapshot())
        guard let object = ObjectReader.open(seen, procDirectory: host.configuration.procDirectory) else {
            throw APIFailure(Problems.make(404, "not-found", "Not found", "no process keeps \(seen.id) any more"))
        }
        return try dump(request, object)
    }

    /// The object of the URL's `{object}`, `MAJ-MIN:INODE`.
    private func requestedUnlinked(_ request: HTTPRequest, _ snapshot: HostSnapshot) throws(APIFailure) -> SeenObject {
        try Self.unlinked(request.parameter("object") ?? "", snapshot)
    }

    /// The object `text` (`MAJ-MIN:INODE`) names in `snapshot`.
    static func unlinked(_ text: String, _ snapshot: HostSnapshot) throws(APIFailure) -> SeenObject {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let device = DeviceID(Substring(parts[0].replacing("-", with: ":"))),
            let inode = UInt64(parts[1])
        else {
            throw APIFailure(Problems.badRequest("an object is addressed as MAJ-MIN:INODE, not '\(text.prefix(64))'"))
        }
        guard let seen = snapshot.objects[ObjectID(device: device, inode: inode)], seen.kind != .named else {
            throw APIFailure(
                Problems.make(404, "not-found", "Not found", "no process keeps a memfd or unlinked object \(text)"))
        }
        return seen
    }
}
