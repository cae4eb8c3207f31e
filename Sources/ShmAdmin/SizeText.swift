import SectionRegistry

/// Sizes as the API and the command line take them: a byte count, or a string with a binary unit
/// (`"64KiB"`, `"1GiB"`, also `K`, `M`, `G`, `T` with the same meaning).
public enum SizeText {
    /// Why a size was refused, naming the field.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    static let units: [(suffix: String, shift: Int64)] = [
        ("KiB", 10), ("MiB", 20), ("GiB", 30), ("TiB", 40),
        ("K", 10), ("M", 20), ("G", 30), ("T", 40),
    ]

    /// Parses a size string.
    public static func parse(_ text: String, field: String) throws(Invalid) -> Int64 {
        var body = Substring(text)
        var shift: Int64 = 0
        for unit in units where body.hasSuffix(unit.suffix) {
            body = body.dropLast(unit.suffix.count)
            shift = unit.shift
            break
        }
        if body.hasSuffix(" ") { body = body.dropLast() }
        guard !body.isEmpty, body.utf8.count <= 20, body.utf8.allSatisfy({ (48...57).contains($0) }),
            let number = Int64(body)
        else {
            throw Invalid(
                description: "\(field) '\(text)' is not a size: use a byte count or a number with KiB, MiB, GiB or TiB")
        }
        let (result, overflow) = number.multipliedReportingOverflow(by: Int64(1) << shift)
        guard !overflow else { throw Invalid(description: "\(field) '\(text)' is too large") }
        return result
    }

    /// Validates a byte count given as a number.
    public static func validate(_ value: Int64, field: String) throws(Invalid) -> Int64 {
        guard value >= 0 else { throw Invalid(description: "\(field) must not be negative (got \(value))") }
        return value
    }
}
