import HTTPServer
import HostScan
import JSON
import SectionRegistry

/// `GET` and `DELETE /api/v1/sysv/{ipc}/{shmid}`: one System V segment of any IPC namespace some
/// process is in.
extension API {
    func sysvDetail(_ request: HTTPRequest) throws -> HostObjectDetailJSON {
        let snapshot = host.snapshot()
        return try Self.sysvDetail(
            try requestedSegment(request, snapshot), snapshot, procDirectory: host.configuration.procDirectory)
    }

    /// One segment with the processes attaching it (`GET /api/v1/sysv/{ipc}/{shmid}`).
    static func sysvDetail(_ segment: SysVSegment, _ snapshot: HostSnapshot, procDirectory: String)
        throws(APIFailure) -> HostObjectDetailJSON
    {
        guard let object = HostObjects.sysv(snapshot).first(where: { $0.sysv?.id == segment.id }) else {
            throw APIFailure(Problems.make(404, "not-found", "Not found", "no such System V segment"))
        }
        return HostObjectDetailJSON(
            object, mappers: snapshot.sysvMappers[segment.id] ?? [], holders: [], locks: [], snapshot,
            procDirectory: procDirectory)
    }

    /// `IPC_RMID`, decided on a pass made for it: 409 with the attaching pids while `nattch` > 0,
    /// unless `?force=true` (the kernel then removes the segment when the last process detaches).
    func deleteSysV(_ request: HTTPRequest) throws -> HTTPResponse {
        let force = try Query(request: request).bool("force") ?? false
        let snapshot = host.freshSnapshot()
        let segment = try requestedSegment(request, snapshot)
        let attached = snapshot.sysvMappers[segment.id]?.map(\.pid) ?? []
        let pids = Set(attached).subtracting([snapshot.ownPid]).sorted()
        if segment.nattch > 0 && !force {
            throw APIFailure(
                Problems.make(
                    409, "section-mapped", "Segment is attached",
                    "System V segment \(segment.shmid) is attached by \(segment.nattch) process(es); ?force=true removes it once they detach",
                    [("pids", .array(pids.map { .int(Int64($0)) }))]))
        }
        let member = snapshot.processes.filter { $0.value.ipc == segment.ipc }.keys.min()
        let removed = try refusedAsForbidden {
            try GuardedDelete.removeSegment(
                shmid: segment.shmid, ipc: segment.ipc, own: snapshot.ownIPCNamespace, member: member,
                procDirectory: host.configuration.procDirectory)
        }
        host.invalidate()
        guard removed else {
            throw APIFailure(Problems.make(404, "not-found", "Not found", "System V segment \(segment.shmid) is gone"))
        }
        return .empty()
    }

    /// The segment of the URL's `{ipc}` (`host` or a namespace inode) and `{shmid}`.
    func requestedSegment(_ request: HTTPRequest, _ snapshot: HostSnapshot) throws(APIFailure) -> SysVSegment {
        try Self.segment(ipc: request.parameter("ipc") ?? "", shmid: request.parameter("shmid") ?? "", snapshot)
    }

    /// The segment `ipc` (`host` or a namespace inode) and `shmid` name in `snapshot`.
    static func segment(ipc ipcText: String, shmid shmidText: String, _ snapshot: HostSnapshot)
        throws(APIFailure) -> SysVSegment
    {
        let ipc = ipcText == "host" ? snapshot.ownIPCNamespace : UInt64(ipcText)
        guard let ipc, let shmid = Int32(shmidText), shmid >= 0 else {
            throw APIFailure(
                Problems.badRequest(
                    "a segment is addressed as IPC/SHMID: IPC 'host' or a namespace inode, SHMID a number"))
        }
        guard let segment = snapshot.sysv.first(where: { $0.ipc == ipc && $0.shmid == shmid }) else {
            throw APIFailure(
                Problems.make(
                    404, "not-found", "Not found", "no System V segment \(shmid) in IPC namespace \(ipcText.prefix(32))"
                ))
        }
        return segment
    }
}

/// `work`'s answer; EPERM and EACCES from the kernel are 403 (the server lacks the privilege).
func refusedAsForbidden(_ work: () throws -> Bool) throws -> Bool {
    do {
        return try work()
    } catch let error as SystemCallError where error.errno == .notPermitted || error.errno == .permissionDenied {
        throw APIFailure(Problems.forbidden("the kernel refused: \(error.description)"))
    }
}
