import Foundation

/// Durations as users type them: `500ms`, `2s`, `1.5s`, `5m`, `1h`, `1d`, or
/// a bare number of seconds.
///
/// At most `maximumSeconds` (100 years): every duration ends up as a clock
/// deadline in nanoseconds, and a larger one would overflow it and trap
/// (a `--timeout 99999999999999999h` once took every daemon down).
public enum DurationText {
    /// 100 years, in seconds: far beyond any real limit, and far below
    /// where a deadline in nanoseconds (Int64) overflows.
    public static let maximumSeconds: Double = 100 * 365.25 * 86400

    /// The seconds `text` stands for, or `nil` when it is not a duration or
    /// is longer than `maximumSeconds`.
    public static func seconds(_ text: String) -> Double? {
        parse(text).flatMap { $0 <= maximumSeconds ? $0 : nil }
    }

    /// A duration's seconds, clamped to what a clock deadline can hold: for
    /// values that were stored before the limit existed.
    public static func clamped(_ seconds: Double) -> Double {
        seconds.isFinite ? min(max(seconds, 0), maximumSeconds) : maximumSeconds
    }

    /// A short form for messages: `30d`, `12h`, `5m`, `20s`.
    public static func describe(_ seconds: Double) -> String {
        for (suffix, scale) in [("d", 86400.0), ("h", 3600), ("m", 60)] where seconds >= scale && seconds.truncatingRemainder(dividingBy: scale) == 0 {
            return "\(Int(seconds / scale))\(suffix)"
        }
        return "\(seconds.compactText)s"
    }

    private static func parse(_ text: String) -> Double? {
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
