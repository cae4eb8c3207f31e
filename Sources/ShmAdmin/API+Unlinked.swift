import HTTPServer
import HostScan

/// `GET /api/v1/unlinked/{device}:{inode}`: a memfd or an unlinked object, by device (`MAJ-MIN`)
/// and inode, with the processes that keep it.
extension API {
    func unlinkedDetail(_ request: HTTPRequest) throws -> HTTPResponse {
        let text = request.parameter("object") ?? ""
        let parts = text.split(separator: ":")
        guard parts.count == 2, let device = DeviceID(Substring(parts[0].replacing("-", with: ":"))),
            let inode = UInt64(parts[1])
        else {
            throw APIFailure(Problems.badRequest("an object is addressed as MAJ-MIN:INODE, not '\(text.prefix(64))'"))
        }
        let snapshot = host.snapshot()
        let id = ObjectID(device: device, inode: inode)
        guard let seen = snapshot.objects[id], seen.kind != .named else {
            throw APIFailure(
                Problems.make(404, "not-found", "Not found", "no process keeps a memfd or unlinked object \(text)"))
        }
        return .json(
            encoded: HostJSON.detail(
                HostObjects.unlinked(seen, snapshot), mappers: seen.mappers, holders: seen.holders,
                locks: snapshot.locks[id] ?? [], snapshot, procDirectory: host.configuration.procDirectory))
    }
}
