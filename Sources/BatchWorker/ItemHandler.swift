import BatchStore

/// The work a worker pool does for one item. The command runner is one
/// handler; a Swift program (or a test) can plug in its own.
///
/// Contract: `run` returns the item's outcome, a failure included, and throws
/// only when it was cancelled. Cancellation must stop the work promptly,
/// including any process it started: the pool cancels an item when its job is
/// cancelled, when its lease is lost, and when a shutdown's grace runs out.
public protocol ItemHandler: Sendable {
    func run(_ item: WorkItem, of job: Job) async throws -> ItemOutcome

    /// Whether a `--stream` job runs as the job's command in long-lived
    /// processes, one per worker slot, fed the items on stdin (the command
    /// runner). Any other handler runs a stream job's items through `run`,
    /// one at a time, and never starts the job's command. Default: false.
    var runsStreamProcesses: Bool { get }
}

extension ItemHandler {
    public var runsStreamProcesses: Bool { false }
}
