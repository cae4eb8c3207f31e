/// Sizes as the API takes them: a byte count, or a string with a binary unit
/// (`"64KiB"`, `"1GiB"`, also `K`, `M`, `G`, `T` with the same meaning).
public enum ByteSize {
    static let units: [(suffix: String, shift: Int64)] = [
        ("KiB", 10), ("MiB", 20), ("GiB", 30), ("TiB", 40),
        ("K", 10), ("M", 20), ("G", 30), ("T", 40),
    ]

    /// Parses a size string; throws `.invalidSize` naming `field` on anything else.
    public static func parse(_ text: String, field: String) throws(SectionError) -> Int64 {
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
            throw SectionError(
                .invalidSize,
                "\(field) '\(text)' is not a size: use a byte count or a number with KiB, MiB, GiB or TiB")
        }
        return try checked(number, shift: shift, field: field, text: text)
    }

    /// Validates a byte count given as a number.
    public static func validate(_ value: Int64, field: String) throws(SectionError) -> Int64 {
        guard value >= 0 else { throw SectionError(.invalidSize, "\(field) must not be negative (got \(value))") }
        return value
    }

    private static func checked(_ number: Int64, shift: Int64, field: String, text: String) throws(SectionError)
        -> Int64
    {
        let (result, overflow) = number.multipliedReportingOverflow(by: Int64(1) << shift)
        guard !overflow else { throw SectionError(.invalidSize, "\(field) '\(text)' is too large") }
        return result
    }

    /// Rounds up to a multiple of `page`; nil on overflow.
    public static func roundUp(_ value: Int64, toMultipleOf page: Int64) -> Int64? {
        let (sum, overflow) = value.addingReportingOverflow(page - 1)
        guard !overflow else { return nil }
        return sum / page * page
    }

    /// `1073741824` → `"1 GiB"`, for messages.
    public static func describe(_ value: Int64) -> String {
        let names = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var amount = Double(value)
        var index = 0
        while amount >= 1024, index < names.count - 1 {
            amount /= 1024
            index += 1
        }
        if index == 0 { return "\(value) B" }
        let rounded = (amount * 10).rounded() / 10
        return rounded == rounded.rounded() ? "\(Int64(rounded)) \(names[index])" : "\(rounded) \(names[index])"
    }
}
