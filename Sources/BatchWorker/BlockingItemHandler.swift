import BatchStore

/// A handler whose work blocks a thread anyway (waiting for a process). The
/// pool runs such a handler's items a page at a time on one thread of
/// `BlockingThreads`, so the slot's task wakes once per page rather than once
/// per item: thread hand-offs were most of the pool's own cost per item.
///
/// Contract: `runBlocking` returns the item's outcome, a failure included;
/// a run past `timeout` seconds is stopped and fails with "timed out"; once
/// `stop` is triggered the work stops promptly, including any process it
/// started, and it returns `nil`.
protocol BlockingItemHandler: ItemHandler {
    func runBlocking(_ item: WorkItem, of job: Job, timeout: Double?, stop: StopSignal) -> ItemOutcome?
}
