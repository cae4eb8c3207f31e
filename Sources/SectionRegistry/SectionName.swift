/// A validated section name: the object `NAME` in the shared-memory directory, `shm_open("/NAME")`.
///
/// 1–255 bytes of UTF-8 with no `/`, no `\`, no NUL or other control character, not `.` or `..`.
public struct SectionName: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let value: String

    public init(_ value: String) throws(SectionError) {
        guard let problem = Self.problem(with: value) else {
            self.value = value
            return
        }
        throw SectionError(.invalidName, "invalid section name: \(problem)", section: nil)
    }

    /// Trusted construction for names read back from the kernel (directory entries).
    init(unchecked value: String) { self.value = value }

    /// Why `value` is not a valid name, or nil when it is.
    public static func problem(with value: String) -> String? {
        let bytes = Array(value.utf8)
        if bytes.isEmpty { return "the name is empty" }
        if bytes.count > 255 { return "the name is \(bytes.count) bytes long; at most 255 are allowed" }
        if value == "." || value == ".." { return "'.' and '..' are not names" }
        // String(decoding:) repairs invalid UTF-8 with U+FFFD; a name holding it was not valid UTF-8.
        if value.unicodeScalars.contains("\u{FFFD}") { return "the name is not valid UTF-8" }
        for scalar in value.unicodeScalars {
            if scalar == "/" || scalar == "\\" { return "the name contains '\(scalar)'" }
            if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) {
                return "the name contains the control character U+\(String(scalar.value, radix: 16, uppercase: true))"
            }
        }
        return nil
    }

    /// `sem.*` entries are POSIX named semaphores.
    public var isSemaphoreName: Bool { value.hasPrefix("sem.") }

    public var description: String { value }

    public static func < (lhs: SectionName, rhs: SectionName) -> Bool { lhs.value < rhs.value }
}
