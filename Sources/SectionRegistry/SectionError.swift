import SystemPackage
@_exported import SystemSeam

/// Every failure of the registry: what went wrong (a code, with what the caller needs to act on
/// it), an operator-readable message naming the section, and, when the kernel said no, the
/// system call and its errno.
public struct SectionError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case notFound, exists, invalidName, invalidSize, invalidArgument
        /// A grow asked for less than the commit in force.
        case shrinkRefused(commit: Int64)
        case pastReserve
        /// A commit larger than the whole shared-memory filesystem: no retry can succeed.
        case pastCapacity(filesystemBytes: Int64)
        /// A data range outside the commit in force (nil when the object could no longer be read).
        case outOfRange(commit: Int64?)
        /// Not enough shared memory (or address space) now: nothing changed.
        case insufficientSpace
        /// Other processes map the section: their pids.
        case mappedByOthers(pids: [Int32])
        case readOnlyView, viewNotFound, leaseNotFound
        /// The lock was not had in time: who holds it, and how.
        case lockTimeout(holders: [LockHolder])
        /// A foreign section asked to change before it is adopted.
        case notManaged
        /// A POSIX semaphore asked to change.
        case semaphore
        case alreadyManaged, permissionDenied, addressInUse
        /// The state directory cannot be written.
        case stateStorage
        /// Anything else the kernel refused.
        case system
    }

    public let code: Code
    public let message: String
    public let section: String?
    /// The system call that failed, when one did.
    public let cause: SystemCallError?

    public init(_ code: Code, _ message: String, section: String? = nil, cause: SystemCallError? = nil) {
        self.code = code
        self.message = message
        self.section = section
        self.cause = cause
    }

    public var description: String {
        guard let cause else { return message }
        return "\(message) (\(cause))"
    }

    /// The code without its payload: for matching, counting and logs.
    public var kind: Kind { code.kind }

    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case notFound, exists, invalidName, invalidSize, invalidArgument
        case shrinkRefused, pastReserve, pastCapacity, outOfRange, insufficientSpace
        case mappedByOthers, readOnlyView, viewNotFound, leaseNotFound, lockTimeout
        case notManaged, semaphore, alreadyManaged, permissionDenied, addressInUse
        case stateStorage, system
    }
}

extension SectionError {
    /// A failed system call about `section` (nil: the registry itself) as a typed error: the code
    /// follows the errno, and `action` says what was being done ("grow", "map the pages of").
    init(_ failure: SystemCallError, section: String?, doing action: String) {
        let subject = section.map { "section '\($0)'" } ?? "the registry"
        switch failure.errno {
        case .noSuchFileOrDirectory:
            self.init(.notFound, "\(subject) does not exist", section: section, cause: failure)
        case .fileExists:
            self.init(.exists, "\(subject) already exists", section: section, cause: failure)
        case .noSpace, .noMemory, .fileTooLarge, .diskQuotaExceeded:
            self.init(
                .insufficientSpace, "not enough shared memory to \(action) \(subject)", section: section, cause: failure
            )
        case .permissionDenied, .notPermitted, .readOnlyFileSystem:
            self.init(.permissionDenied, "permission denied to \(action) \(subject)", section: section, cause: failure)
        case .fileNameTooLong:
            self.init(.invalidName, "could not \(action) \(subject)", section: section, cause: failure)
        default:
            self.init(.system, "could not \(action) \(subject)", section: section, cause: failure)
        }
    }
}

extension SectionError.Code {
    var kind: SectionError.Kind {
        switch self {
        case .notFound: .notFound
        case .exists: .exists
        case .invalidName: .invalidName
        case .invalidSize: .invalidSize
        case .invalidArgument: .invalidArgument
        case .shrinkRefused: .shrinkRefused
        case .pastReserve: .pastReserve
        case .pastCapacity: .pastCapacity
        case .outOfRange: .outOfRange
        case .insufficientSpace: .insufficientSpace
        case .mappedByOthers: .mappedByOthers
        case .readOnlyView: .readOnlyView
        case .viewNotFound: .viewNotFound
        case .leaseNotFound: .leaseNotFound
        case .lockTimeout: .lockTimeout
        case .notManaged: .notManaged
        case .semaphore: .semaphore
        case .alreadyManaged: .alreadyManaged
        case .permissionDenied: .permissionDenied
        case .addressInUse: .addressInUse
        case .stateStorage: .stateStorage
        case .system: .system
        }
    }
}
/// Runs system calls about `section`, turning a failure into the registry's error (see
/// `SectionError.init(_:section:doing:)`).
@inline(__always)
func performing<T>(_ action: String, on section: String?, _ body: () throws(SystemCallError) -> T)
    throws(SectionError) -> T
{
    do throws(SystemCallError) { return try body() } catch {
        throw SectionError(error, section: section, doing: action)
    }
}
