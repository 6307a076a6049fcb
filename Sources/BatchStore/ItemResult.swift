import Foundation

/// One recorded result, as followers read it.
public struct ItemResult: Sendable, Hashable {
    /// The item's input line number, from 1.
    public var line: Int64
    /// Position in the job's completion order, from 1. It is assigned when
    /// the result is recorded and never changes, so the unordered stream is
    /// the same on every read.
    public var sequence: Int64
    public var outcome: ItemOutcome
    /// How many times the item was started, this run included.
    public var attempts: Int

    public init(line: Int64, sequence: Int64, outcome: ItemOutcome, attempts: Int) {
        self.line = line
        self.sequence = sequence
        self.outcome = outcome
        self.attempts = attempts
    }
}
