import Foundation

/// When a job gives up because too many of its items failed, with GNU
/// parallel's meaning of `--halt`.
///
/// - `now,fail=N`: after the N-th failed item, running items are killed.
/// - `soon,fail=N`: after the N-th failed item, running items may finish
///   (their results are recorded), but nothing new starts.
/// - `fail=P%`: when at least P% of the finished items failed, counted once at
///   least 3 items have finished (so the first failure alone cannot stop a
///   large job).
///
/// Either way the job ends in state `failed` with the reason recorded.
/// Failures that will be retried do not count: only an item's final outcome.
public struct HaltPolicy: Sendable, Hashable, CustomStringConvertible {
    public enum When: String, Sendable, Hashable {
        case now
        case soon
    }

    public enum Threshold: Sendable, Hashable {
        case count(Int64)
        case percent(Double)
    }

    public var when: When
    public var threshold: Threshold

    public init(when: When, threshold: Threshold) {
        self.when = when
        self.threshold = threshold
    }

    /// Parses `now,fail=3`, `soon,fail=10%` (and `fail=N` alone, meaning `now`).
    public init?(parsing text: String) {
        let parts = text.split(separator: ",").map(String.init)
        guard (1...2).contains(parts.count) else { return nil }
        let whenText = parts.count == 2 ? parts[0] : "now"
        guard let when = When(rawValue: whenText), let condition = parts.last, condition.hasPrefix("fail=") else {
            return nil
        }
        let value = condition.dropFirst("fail=".count)
        if value.hasSuffix("%") {
            guard let percent = Double(value.dropLast()), percent > 0, percent <= 100 else { return nil }
            self.init(when: when, threshold: .percent(percent))
        } else {
            guard let count = Int64(value), count > 0 else { return nil }
            self.init(when: when, threshold: .count(count))
        }
    }

    /// Whether a job with these counts must halt.
    public func isReached(failed: Int64, finished: Int64) -> Bool {
        switch threshold {
        case .count(let limit):
            return failed >= limit
        case .percent(let percent):
            return finished >= 3 && Double(failed) * 100 >= percent * Double(finished)
        }
    }

    public var description: String {
        switch threshold {
        case .count(let n): "\(when.rawValue),fail=\(n)"
        case .percent(let p): "\(when.rawValue),fail=\(p.formatted(.number.grouping(.never)))%"
        }
    }
}
