/// Unbacked bytes and exposure (API-HOST.md "More words"), computed here once for every reader.
extension FileFacts {
    /// The part of the object's size with no memory behind it: `max(0, size − allocated)`. A
    /// process writing there needs fresh tmpfs pages and dies of SIGBUS when the tmpfs is full.
    public var unbackedBytes: Int64 { max(0, size - allocatedBytes) }
}

extension ShmMount {
    /// The sum of its objects' unbacked bytes.
    public var exposureBytes: Int64 { entries.reduce(0) { $0 + $1.facts.unbackedBytes } }

    /// Whether its exposure exceeds its free bytes (false when its capacity is unknown).
    public var isExposed: Bool { capacity.map { exposureBytes > $0.freeBytes } ?? false }

    /// The object id of one of its files.
    public func objectID(_ entry: MountEntry) -> ObjectID { ObjectID(device: device, inode: entry.inode) }
}

/// The detail URL of every kind of object and of a mount (API-HOST.md "An object in the
/// inventory", `href`).
public enum Hrefs {
    public static func mount(_ device: DeviceID) -> String { "/api/v1/mounts/\(device)" }

    /// `/api/v1/sections/NAME` for the server's own directory, `/api/v1/mounts/ID/sections/NAME` otherwise.
    public static func file(_ name: String, of mount: ShmMount) -> String { filePrefix(of: mount) + segment(name) }

    /// What `file` puts before the name: made once for a mount's many files.
    public static func filePrefix(of mount: ShmMount) -> String {
        mount.isServer ? "/api/v1/sections/" : filesPrefix(of: mount.device)
    }

    /// `/api/v1/mounts/ID/sections/`: where any mount's files are, the server's own included.
    public static func filesPrefix(of device: DeviceID) -> String { "/api/v1/mounts/\(device)/sections/" }

    public static func sysv(_ segment: SysVSegment) -> String { "/api/v1/sysv/\(segment.ipc)/\(segment.shmid)" }

    public static func unlinked(_ id: ObjectID) -> String {
        "/api/v1/unlinked/\(id.device.major)-\(id.device.minor):\(id.inode)"
    }

    /// Letters, digits and `-._~` (RFC 3986's unreserved characters).
    public static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// A name as one path segment: everything but unreserved characters percent-encoded.
    public static func segment(_ text: String) -> String {
        if text.utf8.allSatisfy(isUnreserved) { return text }  // most names: nothing to encode
        var result = ""
        for byte in text.utf8 {
            if isUnreserved(byte) {
                result.append(Character(Unicode.Scalar(byte)))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return result
    }
}
