#if canImport(Glibc)
    import Glibc
#endif

/// Every failure of the registry: what went wrong (a code the HTTP layer maps to a status),
/// an operator-readable message naming the section, and — when the kernel said no — the errno
/// and the system call.
public struct SectionError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case notFound, exists, invalidName, invalidSize, invalidArgument
        case shrinkRefused, pastReserve, outOfRange, insufficientSpace
        case mappedByOthers, readOnlyView, viewNotFound, leaseNotFound, lockTimeout
        case notManaged, semaphore, alreadyManaged, permissionDenied, addressInUse
        case stateStorage, system
    }

    public var code: Code
    public var message: String
    public var section: String?
    public var errno: Int32?
    public var systemCall: String?
    /// Processes involved: mappers refusing a delete, holders refusing a lock.
    public var pids: [Int32] = []
    /// The locks that refused a lock (`.lockTimeout`), with their modes: the 423 problem lists them.
    public var holders: [LockHolder] = []
    /// The commit in force, for range errors.
    public var commit: Int64?

    public init(
        _ code: Code, _ message: String, section: String? = nil, errno: Int32? = nil, systemCall: String? = nil
    ) {
        self.code = code
        self.message = message
        self.section = section
        self.errno = errno
        self.systemCall = systemCall
    }

    /// The error text of an errno value, e.g. "No space left on device".
    public static func describe(errno value: Int32) -> String {
        guard let text = strerror(value) else { return "errno \(value)" }
        return String(cString: text)
    }

    public var description: String {
        var text = message
        if let call = systemCall, let errno {
            text += " (\(call): \(Self.describe(errno: errno)))"
        }
        return text
    }
}

extension SectionError {
    /// Turns a failed system call into a typed error, choosing the code from the errno.
    static func fromErrno(
        _ value: Int32, call: String, section: String?, doing action: String
    ) -> SectionError {
        let code: Code
        switch value {
        case ENOENT: code = .notFound
        case EEXIST: code = .exists
        case ENOSPC, ENOMEM, EFBIG, EDQUOT: code = .insufficientSpace
        case EACCES, EPERM, EROFS: code = .permissionDenied
        case ENAMETOOLONG: code = .invalidName
        default: code = .system
        }
        let subject = section.map { "section '\($0)'" } ?? "the registry"
        let message: String
        switch code {
        case .notFound: message = "\(subject) does not exist"
        case .insufficientSpace: message = "not enough shared memory to \(action) \(subject)"
        case .permissionDenied: message = "permission denied to \(action) \(subject)"
        default: message = "could not \(action) \(subject)"
        }
        return SectionError(code, message, section: section, errno: value, systemCall: call)
    }
}
