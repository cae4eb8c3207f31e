import HTTPServer
import JSON
import SectionRegistry

/// The one place where failures become HTTP statuses and RFC 9457 bodies.
enum Problems {
    static func make(
        _ status: Int, _ type: String, _ title: String, _ detail: String, _ extras: [(String, JSONValue)] = []
    )
        -> ProblemDetails
    {
        ProblemDetails(type: "/problems/" + type, title: title, status: status, detail: detail, extras: extras)
    }

    static func badRequest(_ detail: String) -> ProblemDetails { make(400, "bad-request", "Bad request", detail) }

    static func invalid(_ detail: String) -> ProblemDetails {
        make(422, "invalid-request", "Invalid request", detail)
    }

    static func invalidSize(_ detail: String) -> ProblemDetails { make(422, "invalid-size", "Invalid size", detail) }

    static func unsupportedMediaType(_ detail: String) -> ProblemDetails {
        make(415, "unsupported-media-type", "Unsupported media type", detail)
    }

    static func unauthorized(_ detail: String) -> ProblemDetails { make(401, "unauthorized", "Unauthorized", detail) }

    static func forbidden(_ detail: String) -> ProblemDetails { make(403, "forbidden", "Forbidden", detail) }

    static func rangeNotSatisfiable(_ detail: String, commit: Int64) -> ProblemDetails {
        make(416, "range-not-satisfiable", "Range not satisfiable", detail, [("commit", .int(commit))])
    }

    /// A registry error as a problem: the status follows the error's code.
    static func from(_ error: SectionError) -> ProblemDetails {
        var extras: [(String, JSONValue)] = []
        if let section = error.section { extras.append(("section", .string(section))) }
        switch error.code {
        case .shrinkRefused(let commit), .outOfRange(let commit?): extras.append(("commit", .int(commit)))
        case .pastCapacity(let size): extras.append(("sizeBytes", .int(size)))
        default: break
        }
        if let cause = error.cause {
            extras.append(("errno", .int(Int64(cause.errno.rawValue))))
            extras.append(("systemCall", .string(cause.call)))
        }
        let detail = error.description
        switch error.code {
        case .notFound: return make(404, "section-not-found", "Section not found", detail, extras)
        case .viewNotFound: return make(404, "view-not-found", "View not found", detail, extras)
        case .leaseNotFound: return make(404, "lease-not-found", "Lease not found", detail, extras)
        case .exists: return make(409, "section-exists", "Section exists", detail, extras)
        case .shrinkRefused: return make(409, "shrink-refused", "A commit never shrinks", detail, extras)
        case .mappedByOthers(let pids):
            extras.append(("pids", .array(pids.map { .int(Int64($0)) })))
            return make(409, "section-mapped", "Section is mapped by other processes", detail, extras)
        case .readOnlyView: return make(409, "read-only-view", "View is read-only", detail, extras)
        case .alreadyManaged, .addressInUse: return make(409, "conflict", "Conflict", detail, extras)
        case .invalidName: return make(422, "invalid-name", "Invalid section name", detail, extras)
        case .invalidSize: return make(422, "invalid-size", "Invalid size", detail, extras)
        case .invalidArgument: return make(422, "invalid-request", "Invalid request", detail, extras)
        case .pastReserve: return make(422, "past-reserve", "Past the reserve", detail, extras)
        case .pastCapacity:
            return make(422, "past-capacity", "Larger than the shared-memory filesystem", detail, extras)
        case .outOfRange: return make(416, "range-not-satisfiable", "Range not satisfiable", detail, extras)
        case .lockTimeout(let holders):
            // pid -1: an OFD lock whose holder could not be found (as in the section's lockHolders).
            let rendered: [JSONValue] = holders.map {
                .object([("pid", .int(Int64($0.pid ?? -1))), ("mode", .string($0.mode.rawValue))])
            }
            extras.append(("holders", .array(rendered)))
            return make(423, "lock-timeout", "Lock not acquired", detail, extras)
        case .notManaged, .semaphore, .permissionDenied: return make(403, "forbidden", "Forbidden", detail, extras)
        case .insufficientSpace:
            return make(507, "insufficient-storage", "Not enough shared memory", detail, extras)
        case .stateStorage:
            return make(507, "insufficient-storage", "The state directory cannot be written", detail, extras)
        case .system: return make(500, "internal", "Internal error", detail, extras)
        }
    }
}

/// A handler failure that already knows its problem.
struct APIFailure: Error {
    var problem: ProblemDetails

    init(_ problem: ProblemDetails) { self.problem = problem }
}
