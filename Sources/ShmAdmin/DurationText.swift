/// Durations as API-HOST.md writes them: `"250ms"`, `"90s"`, `"10m"`, `"24h"`, or whole seconds.
public enum DurationText {
    /// Seconds, or nil when the text is not a duration (negative ones are not).
    public static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let number = Double(text.dropLast(suffix.count)), number >= 0, number.isFinite else { return nil }
            return number * scale
        }
        guard let number = Int64(text), number >= 0 else { return nil }
        return Double(number)
    }
}
