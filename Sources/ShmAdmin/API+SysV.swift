import HTTPServer
import HostScan

/// `GET /api/v1/sysv/{ipc}/{shmid}`: one System V segment of any IPC namespace some process is in.
extension API {
    func sysvDetail(_ request: HTTPRequest) throws -> HTTPResponse {
        let snapshot = host.snapshot()
        let ipcText = request.parameter("ipc") ?? ""
        let shmidText = request.parameter("shmid") ?? ""
        let ipc = ipcText == "host" ? snapshot.ownIPCNamespace : UInt64(ipcText)
        guard let ipc, let shmid = Int32(shmidText), shmid >= 0 else {
            throw APIFailure(
                Problems.badRequest(
                    "a segment is addressed as IPC/SHMID: IPC 'host' or a namespace inode, SHMID a number"))
        }
        guard let segment = snapshot.sysv.first(where: { $0.ipc == ipc && $0.shmid == shmid }),
            let object = HostObjects.sysv(snapshot).first(where: { $0.sysv?.id == segment.id })
        else {
            throw APIFailure(
                Problems.make(404, "not-found", "Not found", "no System V segment \(shmid) in IPC namespace \(ipcText)")
            )
        }
        let detail = HostJSON.detail(
            object, mappers: snapshot.sysvMappers[segment.id] ?? [], holders: [], locks: [], snapshot,
            procDirectory: host.configuration.procDirectory
        ) { json in
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
                if seconds > 0 { json.string(Render.timestamp(Double(seconds))) } else { json.null() }
            }
        }
        return .json(encoded: detail)
    }
}
