/// How many of one job's commands may run at once (`-j`), across every daemon
/// serving the store: GNU parallel's `--jobs`, kept as a count in the store
/// (the job's leased chunks, one running command each) rather than per daemon.
public enum RunningLimit: Sendable, Hashable, CustomStringConvertible {
    /// At most this many.
    case count(Int)
    /// This percentage of the workers of the daemons registered now (at
    /// least one): `-j 50%`.
    case percentOfWorkers(Double)

    /// Parses `N` (1 or more) or `P%` (more than 0).
    public init?(parsing text: String) {
        if text.hasSuffix("%") {
            guard let percent = Double(text.dropLast()), percent > 0, percent <= 1_000_000 else { return nil }
            self = .percentOfWorkers(percent)
        } else {
            guard let count = Int(text), count >= 1 else { return nil }
            self = .count(count)
        }
    }

    /// The limit given `workers` registered workers in all.
    public func limit(workers: Int) -> Int {
        switch self {
        case .count(let count): count
        case .percentOfWorkers(let percent): max(1, Int(Double(workers) * percent / 100))
        }
    }

    public var description: String {
        switch self {
        case .count(let count): "\(count)"
        case .percentOfWorkers(let percent): "\(percent.compactText)%"
        }
    }
}

extension Double {
    /// Without a trailing ".0" when whole.
    public var compactText: String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self) }
}
