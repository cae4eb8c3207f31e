/// What the registry remembers of a managed section, one file per section in the state
/// directory. The object itself holds the user's bytes and nothing else.
struct SectionRecord: Codable, Sendable, Equatable {
    /// Where a create or delete stood when the record was written: a crash between the steps
    /// leaves `creating` or `deleting`, which the next start rolls back or finishes.
    enum Phase: String, Codable, Sendable { case creating, ready, deleting }

    var version = 1
    var name: String
    var reserve: Int64
    var namespace: Namespace
    var labels: [String: String]
    /// Seconds since the epoch.
    var createdAt: Double
    var createdBy: String
    var adopted: Bool
    var phase: Phase
    /// The object's inode when the record was made ready.
    var inode: UInt64?
}
