import Foundation

/// Durations as users type them: `500ms`, `2s`, `1.5s`, `5m`, `1h`, `1d`, or
/// a bare number of seconds.
public enum DurationText {
    public static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            // "5ms" must not be read as "5m" + "s": the longest suffix is tried first.
            guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
            return value * scale
        }
        guard let value = Double(text), value.isFinite, value >= 0 else { return nil }
        return value
    }
}
