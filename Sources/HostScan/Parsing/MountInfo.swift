/// /proc/PID/mountinfo: which tmpfs a mount namespace sees at `/dev/shm`.
enum MountInfo {
    struct Line: Equatable {
        var device: DeviceID
        var mountPoint: String
        var fileSystem: String
    }

    /// Every line: `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTIONS`.
    static func parse(_ text: String) -> [Line] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 7, let device = DeviceID(fields[2]),
                let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count
            else { return nil }
            return Line(
                device: device, mountPoint: unescape(fields[4]), fileSystem: String(fields[separator + 1]))
        }
    }

    /// The tmpfs reachable at `path`: the last mount there (stacked mounts hide those below), if
    /// it is a tmpfs.
    static func shmDevice(_ text: String, at path: String = "/dev/shm") -> DeviceID? {
        guard let last = parse(text).last(where: { $0.mountPoint == path }), last.fileSystem == "tmpfs" else {
            return nil
        }
        return last.device
    }

    /// Mount points escape space, tab, newline and backslash as `\ooo`.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let source = Array(field.utf8)
        var index = 0
        while index < source.count {
            if source[index] == 92, index + 4 <= source.count,
                let value = UInt8(String(decoding: source[(index + 1)..<(index + 4)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
