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
            guard let percent = Double(text.dropLast()), percent > 0, percent.isFinite else { return nil }
            self = .percentOfMedian(percent)
        } else {
            guard let seconds = DurationText.seconds(text), seconds > 0 else { return nil }
            self = .seconds(seconds)
        }
    }

    public var description: String {
        switch self {
        case .seconds(let s): "\(s)s"
        case .percentOfMedian(let p): "\(p)%"
        }
    }
}
