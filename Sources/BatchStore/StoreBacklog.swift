import Foundation

/// What waits in a store, for the daemon's metrics: items pending and
/// running, jobs by state, and how long the oldest waiting work has waited.
///
/// Read from the job rows' counters and the leased chunks (never by counting
/// item rows), so a scrape costs the same with a million items waiting. The
/// figures are the store's, not one daemon's: every daemon on a database
/// reports the same backlog.
public struct StoreBacklog: Sendable, Equatable {
    /// Items of open and sealed jobs with no result and no lease on them.
    public var pendingItems: Int64
    /// Items in leased chunks with no result yet.
    public var runningItems: Int64
    /// Jobs by state; every state is present (0 when none).
    public var jobs: [JobState: Int64]
    /// Seconds since the oldest open or sealed job that still has items no
    /// daemon holds was submitted (items appended later to an open job count
    /// from its submission); 0 when nothing waits.
    public var oldestPendingSeconds: Double

    public init(pendingItems: Int64, runningItems: Int64, jobs: [JobState: Int64], oldestPendingSeconds: Double) {
        self.pendingItems = pendingItems
        self.runningItems = runningItems
        self.jobs = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, jobs[$0] ?? 0) })
        self.oldestPendingSeconds = oldestPendingSeconds
    }
}
