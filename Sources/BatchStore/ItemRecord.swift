/// One item's final outcome as a worker hands it to be recorded: its line,
/// the outcome of its last attempt, and how many attempts it took. What
/// travels from a runner to `ResultCommitter` and into
/// `BatchStore.resultsRecordIfLeaseHeld`.
public struct ItemRecord: Sendable, Hashable {
    public var line: Int64
    public var outcome: ItemOutcome
    public var attempts: Int

    public init(line: Int64, outcome: ItemOutcome, attempts: Int) {
        self.line = line
        self.outcome = outcome
        self.attempts = attempts
    }

    public init(_ line: Int64, _ outcome: ItemOutcome, _ attempts: Int) {
        self.init(line: line, outcome: outcome, attempts: attempts)
    }
}
