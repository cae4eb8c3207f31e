/// Byte counts in the registry's arithmetic and messages.
public enum ByteSize {
    /// Rounds up to a multiple of `page`; nil on overflow.
    static func roundUp(_ value: Int64, toMultipleOf page: Int64) -> Int64? {
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
