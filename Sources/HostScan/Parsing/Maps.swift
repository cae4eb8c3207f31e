import CShmLinux

/// /proc/PID/maps lines that concern shared memory.
enum Maps {
    struct Line: Equatable {
        var start: UInt64
        var end: UInt64
        var writable: Bool
        var offset: Int64
        var device: DeviceID
        var inode: UInt64
        /// The path without ` (deleted)`.
        var path: String
        var deleted: Bool
    }

    /// The lines whose device is one of `devices` (hex `maj:min`, as maps prints it) or whose path
    /// is a memfd's or a System V segment's. Every other line is skipped before it is split.
    static func parse(_ bytes: UnsafeRawBufferPointer, devices: Set<String>, needles: [[UInt8]]? = nil) -> [Line] {
        // Most processes map nothing of this: one memmem per needle over the whole file rules them
        // out before any line is split (a host has thousands of maps files).
        guard let base = bytes.baseAddress,
            (needles ?? Self.needles(devices)).contains(where: { cshm_contains(base, bytes.count, $0, $0.count) != 0 })
        else { return [] }
        var result: [Line] = []
        var lineStart = 0
        let count = bytes.count
        while lineStart < count {
            var lineEnd = lineStart
            while lineEnd < count && bytes[lineEnd] != 10 { lineEnd += 1 }
            if let line = parseLine(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd]), devices: devices) {
                result.append(line)
            }
            lineStart = lineEnd + 1
        }
        return result
    }

    static func parse(_ text: String, devices: Set<String>) -> [Line] {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0), devices: devices) }
    }

    /// What a line of interest contains: ` MAJ:MIN ` of a device, or a memfd's or segment's path.
    static func needles(_ devices: Set<String>) -> [[UInt8]] {
        [Array("/memfd:".utf8), Array("/SYSV".utf8)] + devices.map { Array((" " + $0 + " ").utf8) }
    }

    /// `start-end perms offset dev inode   path`; the path may hold spaces.
    private static func parseLine(_ line: UnsafeRawBufferPointer, devices: Set<String>) -> Line? {
        var fields: [Range<Int>] = []
        var index = 0
        while fields.count < 5 && index < line.count {
            while index < line.count && line[index] == 32 { index += 1 }
            let start = index
            while index < line.count && line[index] != 32 { index += 1 }
            if start < index { fields.append(start..<index) }
        }
        guard fields.count == 5 else { return nil }
        while index < line.count && line[index] == 32 { index += 1 }
        let pathBytes = UnsafeRawBufferPointer(rebasing: line[index...])
        let isMemfd = pathBytes.starts(with: "/memfd:".utf8)
        let isSysV = pathBytes.starts(with: "/SYSV".utf8)
        let deviceText = String(decoding: UnsafeRawBufferPointer(rebasing: line[fields[3]]), as: UTF8.self)
        guard isMemfd || isSysV || devices.contains(deviceText) else { return nil }
        func text(_ range: Range<Int>) -> Substring {
            Substring(String(decoding: UnsafeRawBufferPointer(rebasing: line[range]), as: UTF8.self))
        }
        let span = text(fields[0]).split(separator: "-")
        guard span.count == 2, let start = UInt64(span[0], radix: 16), let end = UInt64(span[1], radix: 16),
            let offset = Int64(text(fields[2]), radix: 16), let device = DeviceID(Substring(deviceText), radix: 16),
            let inode = UInt64(text(fields[4])), inode != 0 || isSysV  // a System V inode is its shmid, 0 included
        else { return nil }
        let perms = line[fields[1]]
        var path = String(decoding: pathBytes, as: UTF8.self)
        let deleted = path.hasSuffix(" (deleted)")
        if deleted { path.removeLast(" (deleted)".count) }
        return Line(
            start: start, end: end, writable: perms.count > 1 && perms[perms.startIndex + 1] == 119,  // "w"
            offset: offset, device: device, inode: inode, path: path, deleted: deleted)
    }

    /// A device as maps prints it: at least two lowercase hex digits each side.
    static func hexText(_ device: DeviceID) -> String {
        func hex2(_ value: UInt32) -> String {
            let text = String(value, radix: 16)
            return text.count < 2 ? "0" + text : text
        }
        return hex2(device.major) + ":" + hex2(device.minor)
    }
}
