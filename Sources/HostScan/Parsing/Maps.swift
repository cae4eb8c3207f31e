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

    /// The lines whose device is one of `devices` or whose path is a memfd's or a System V
    /// segment's. A host has thousands of maps files of dozens of lines each, nearly all about
    /// libraries and anonymous memory: each line is read once, byte by byte, up to its device and
    /// path, and nothing is allocated for a line that is skipped.
    static func parse(_ bytes: UnsafeRawBufferPointer, devices: Set<DeviceID>) -> [Line] {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return [] }
        var result: [Line] = []
        var lineStart = 0
        let count = bytes.count
        while lineStart < count {
            var lineEnd = lineStart
            while lineEnd < count && base[lineEnd] != 10 { lineEnd += 1 }
            if let line = parseLine(base + lineStart, count: lineEnd - lineStart, devices: devices) {
                result.append(line)
            }
            lineStart = lineEnd + 1
        }
        return result
    }

    static func parse(_ text: String, devices: Set<String>) -> [Line] {
        var text = text
        let ids = Set(devices.compactMap { DeviceID(Substring($0), radix: 16) })
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0), devices: ids) }
    }

    /// `start-end perms offset MAJ:MIN inode   path` (hex but the inode); the path may hold spaces.
    private static func parseLine(_ line: UnsafePointer<UInt8>, count: Int, devices: Set<DeviceID>) -> Line? {
        var index = 0
        /// Hex digits up to `stop`; nil on anything else or an empty or too long number.
        func hex(until stop: UInt8) -> UInt64? {
            var value: UInt64 = 0
            let first = index
            while index < count && line[index] != stop {
                let byte = line[index]
                let digit: UInt8
                switch byte {
                case 48...57: digit = byte - 48
                case 97...102: digit = byte - 87
                case 65...70: digit = byte - 55
                default: return nil
                }
                guard index - first < 16 else { return nil }
                value = value << 4 | UInt64(digit)
                index += 1
            }
            guard index > first, index < count else { return nil }
            index += 1  // the stop byte
            return value
        }
        guard let start = hex(until: 45), let end = hex(until: 32), index + 5 <= count else { return nil }  // "-", " "
        let writable = line[index + 1] == 119  // "w" of "rw-s"
        while index < count && line[index] != 32 { index += 1 }
        index += 1
        guard let offset = hex(until: 32), let major = hex(until: 58), let minor = hex(until: 32),
            major <= UInt64(UInt32.max), minor <= UInt64(UInt32.max)
        else { return nil }
        var inode: UInt64 = 0
        let inodeStart = index
        while index < count, line[index] >= 48, line[index] <= 57 {
            let (shifted, overflow) = inode.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            inode = shifted + UInt64(line[index] - 48)
            index += 1
        }
        guard index > inodeStart else { return nil }
        while index < count && line[index] == 32 { index += 1 }
        let path = UnsafeBufferPointer(start: line + index, count: count - index)
        let isMemfd = path.starts(with: "/memfd:".utf8)
        let isSysV = path.starts(with: "/SYSV".utf8)
        let device = DeviceID(major: UInt32(major), minor: UInt32(minor))
        guard isMemfd || isSysV || devices.contains(device) else { return nil }
        guard inode != 0 || isSysV else { return nil }  // a System V inode is its shmid, 0 included
        var text = String(decoding: path, as: UTF8.self)
        let deleted = text.hasSuffix(" (deleted)")
        if deleted { text.removeLast(" (deleted)".count) }
        return Line(
            start: start, end: end, writable: writable, offset: Int64(bitPattern: offset), device: device,
            inode: inode, path: text, deleted: deleted)
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
