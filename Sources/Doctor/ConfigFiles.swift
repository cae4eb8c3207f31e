#if canImport(Glibc)
    import Glibc
#endif

/// Small text files of the host's `etc/` (and the systemd directories), read whole; nil when absent
/// or unreadable. A drop-in linked to /dev/null reads as empty, which is how systemd masks one.
enum ConfigFiles {
    static func text(_ path: String, limit: Int = 1 << 20) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while bytes.count < limit {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The names in a directory (not `.` and `..`); empty when it cannot be listed.
    static func names(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// `root` joined with an absolute path of the host (`/` stays `/`).
    static func path(_ root: String, _ absolute: String) -> String {
        let trimmed = root.hasSuffix("/") ? String(root.dropLast()) : root
        return trimmed + absolute
    }
}

/// logind's effective `RemoveIPC` (API-HOST.md "Precisely", logind): `etc/systemd/logind.conf`,
/// then every `*.conf` drop-in of the four directories, a name in an earlier directory masking the
/// same name in later ones, applied in file-name order, the later winning. No setting anywhere is
/// systemd's default, yes.
public struct LogindSettings: Sendable, Equatable {
    public var removeIPC: Bool
    /// The file whose setting won (with the root directory's prefix), nil for the default.
    public var source: String?

    public init(removeIPC: Bool = true, source: String? = nil) {
        self.removeIPC = removeIPC
        self.source = source
    }

    public static let dropInDirectories = [
        "/etc/systemd/logind.conf.d", "/run/systemd/logind.conf.d", "/usr/local/lib/systemd/logind.conf.d",
        "/usr/lib/systemd/logind.conf.d",
    ]

    public static func read(rootDirectory: String) -> LogindSettings {
        var files = [ConfigFiles.path(rootDirectory, "/etc/systemd/logind.conf")]
        var chosen: [String: String] = [:]
        for directory in dropInDirectories {
            let full = ConfigFiles.path(rootDirectory, directory)
            for name in ConfigFiles.names(in: full) where name.hasSuffix(".conf") && chosen[name] == nil {
                chosen[name] = full + "/" + name
            }
        }
        files += chosen.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.map { chosen[$0]! }
        var settings = LogindSettings()
        for file in files {
            guard let text = ConfigFiles.text(file), let value = removeIPC(in: text) else { continue }
            settings = LogindSettings(removeIPC: value, source: file)
        }
        return settings
    }

    /// The last valid `RemoveIPC=` of the `[Login]` section of one file.
    static func removeIPC(in text: String) -> Bool? {
        var section = ""
        var result: Bool?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                continue
            }
            guard section == "Login", let equals = line.firstIndex(of: "=") else { continue }
            guard line[..<equals].trimmingSpaces == "RemoveIPC" else { continue }
            if let value = boolean(line[line.index(after: equals)...].trimmingSpaces) { result = value }
        }
        return result
    }

    /// systemd's booleans.
    static func boolean(_ text: Substring) -> Bool? {
        switch text.lowercased() {
        case "1", "yes", "y", "true", "t", "on": true
        case "0", "no", "n", "false", "f", "off": false
        default: nil
        }
    }
}

/// `login.defs`: the largest uid of a system user.
public enum LoginDefs {
    public static let defaultSystemUIDMax: UInt32 = 999

    public static func systemUIDMax(rootDirectory: String) -> UInt32 {
        guard let text = ConfigFiles.text(ConfigFiles.path(rootDirectory, "/etc/login.defs")) else {
            return defaultSystemUIDMax
        }
        var result = defaultSystemUIDMax
        for raw in text.split(whereSeparator: \.isNewline) {
            let fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, fields[0] == "SYS_UID_MAX", let value = UInt32(fields[1]) { result = value }
        }
        return result
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return text
    }
}
