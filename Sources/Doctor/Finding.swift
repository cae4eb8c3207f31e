import HostScan

/// One thing the doctor found (API-HOST.md "Doctor findings"): what is wrong, how bad, which
/// objects and mounts it is about, the numbers that show it, and what a person can do.
public struct Finding: Sendable, Equatable {
    public enum Severity: String, Sendable, Comparable, CaseIterable {
        case info, warning, critical

        var rank: Int {
            switch self {
            case .info: 0
            case .warning: 1
            case .critical: 2
            }
        }

        public static func < (left: Severity, right: Severity) -> Bool { left.rank < right.rank }
    }

    /// The check's fixed id (`shm-full`, …).
    public var id: String
    public var severity: Severity
    public var title: String
    public var detail: String
    /// Hrefs of the mounts and objects concerned.
    public var subjects: [String]
    public var evidence: [String: Evidence]
    public var fix: String
    /// What the finding is about within its check (a mount's id, `host`): a finding "changes" when
    /// the same id and scope come back with another severity. Not part of the JSON.
    public var scope: String

    public init(
        id: String, severity: Severity, title: String, detail: String, subjects: [String],
        evidence: [String: Evidence], fix: String, scope: String = "host"
    ) {
        self.id = id
        self.severity = severity
        self.title = title
        self.detail = detail
        self.subjects = subjects
        self.evidence = evidence
        self.fix = fix
        self.scope = scope
    }

    /// Worst first, then by id and scope, so answers are stable.
    public static func worstFirst(_ left: Finding, _ right: Finding) -> Bool {
        if left.severity != right.severity { return left.severity > right.severity }
        if left.id != right.id { return left.id < right.id }
        return left.scope < right.scope
    }
}

/// A value of a finding's `evidence`: the numbers and names that back it.
public enum Evidence: Sendable, Equatable {
    case int(Int64)
    case number(Double)
    case text(String)
    case bool(Bool)
    case null
    case list([Evidence])
    case object([String: Evidence])

    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    public var textValue: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var listValue: [Evidence]? {
        if case .list(let value) = self { return value }
        return nil
    }
}

/// One check of API-HOST.md's table: a pure function of the doctor's input.
public protocol DoctorCheck: Sendable {
    /// The `id` of every finding it gives.
    static var id: String { get }
    func findings(_ input: DoctorInput) -> [Finding]
}
