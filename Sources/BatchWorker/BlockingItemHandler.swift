import BatchStore

/// A handler whose work blocks a thread anyway (waiting for a process). The
/// pool runs such a handler's items a page at a time on one thread of
/// `BlockingThreads`, so the slot's task wakes once per page rather than once
/// per item: thread hand-offs were most of the pool's own cost per item.
///
/// Contract: `attempt` returns the item's outcome, a failure included; a run
/// past `timeout` seconds is stopped and fails with "timed out"; once `stop`
/// is triggered the work stops promptly, including any process it started,
/// and it returns `.stopped`. When the daemon's own resources (descriptors,
/// processes, memory) run out before the work could start, it returns
/// `.resourceFault`: a fault of the daemon, not of the item, which is handed
/// back rather than failed.
///
/// A run takes one item, or a group of consecutive items for a job with
/// `grouping` (`-n`, `-X`): `groupSize` says how many of the next items the
/// next run takes, and the outcome is the run's.
protocol BlockingItemHandler: ItemHandler {
    func attempt(_ items: ArraySlice<WorkItem>, of job: Job, slot: Int, timeout: Double?, stop: StopSignal) -> BlockingRun
    func groupSize(_ items: ArraySlice<WorkItem>, of job: Job, slot: Int) -> Int
}

/// How one blocking run ended.
enum BlockingRun: Sendable {
    case finished(ItemOutcome)
    case stopped
    /// The work could not start for want of the daemon's resources.
    case resourceFault(String)
}

extension BlockingItemHandler {
    /// The outcome, or `nil` when the run was stopped or could not start.
    func runBlocking(_ item: WorkItem, of job: Job, timeout: Double?, stop: StopSignal) -> ItemOutcome? {
        if case .finished(let outcome) = attempt([item], of: job, slot: 1, timeout: timeout, stop: stop) { return outcome }
        return nil
    }
}
