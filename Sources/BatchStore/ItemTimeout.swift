/// How long one run of an item may take before it is killed (its whole
/// process group: TERM, then KILL after a short grace).
public enum ItemTimeout: Sendable, Hashable, CustomStringConvertible {
    /// A fixed limit, in seconds.
    case seconds(Double)
    /// Like GNU parallel's `--timeout 300%`: this percentage of the median
    /// runtime of the job's items that succeeded so far (the last 1,001 of
    /// them). No limit applies until one item has succeeded.
    case percentOfMedian(Double)

    /// Parses `2s`, `500ms`, `5m`, `1.5` (seconds) or `300%`.
    public init?(parsing text: String) {
        if text.hasSuffix("%") {
            guard let percent = Double(text.dropLast()), percent > 0, percent <= Self.maximumPercent else { return nil }
            self = .percentOfMedian(percent)
        } else {
            guard let seconds = DurationText.seconds(text), seconds > 0 else { return nil }
            self = .seconds(seconds)
        }
    }

    /// The largest percentage accepted: ten thousand times the median.
    public static let maximumPercent: Double = 1_000_000

    /// The limit in seconds for one run, given the job's median runtime (for
    /// a percentage), always within what a clock deadline can hold, whatever
    /// was stored: no value in a job may crash a daemon.
    public func seconds(median: Double?) -> Double? {
        switch self {
        case .seconds(let seconds): DurationText.clamped(seconds)
        case .percentOfMedian(let percent): median.map { DurationText.clamped($0 * percent / 100) }
        }
    }

    public var description: String {
        switch self {
        case .seconds(let s): "\(s)s"
        case .percentOfMedian(let p): "\(p)%"
        }
    }
}
