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

extension SectionRecord {
    /// The record as JSON with sorted keys, what `JSONEncoder` with `.sortedKeys` makes (and
    /// `JSONDecoder` reads back), written directly: the encoder's boxing of every value was 6 % of
    /// the server's time in a create/delete cycle, where each operation saves a record twice.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + labels.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 6 })
        func raw(_ text: String) { out.append(contentsOf: text.utf8) }
        func string(_ text: String) {
            out.append(UInt8(ascii: "\""))
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    out.append(UInt8(ascii: "\\"))
                    out.append(byte)
                case 0..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: Array("\\u00".utf8))
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0xf)])
                default:
                    out.append(byte)
                }
            }
            out.append(UInt8(ascii: "\""))
        }
        raw("{\"adopted\":\(adopted),\"createdAt\":\(createdAt.description),\"createdBy\":")
        string(createdBy)
        if let inode { raw(",\"inode\":\(inode)") }
        raw(",\"labels\":{")
        for (index, key) in labels.keys.sorted().enumerated() {
            if index > 0 { raw(",") }
            string(key)
            raw(":")
            string(labels[key]!)
        }
        raw("},\"name\":")
        string(name)
        raw(",\"namespace\":")
        string(namespace.rawValue)
        raw(",\"phase\":")
        string(phase.rawValue)
        raw(",\"reserve\":\(reserve),\"version\":\(version)}")
        return out
    }
}
