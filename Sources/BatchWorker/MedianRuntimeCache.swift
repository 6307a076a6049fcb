import BatchStore
import Foundation
import Synchronization

/// The median runtime of a job's successful items, for `--timeout N%`,
/// read from the store at most once a second per job (it is a query over up
/// to 1,001 results, and every item start needs it).
final class MedianRuntimeCache: Sendable {
    private let store: any BatchStore
    private let entries = Mutex<[JobID: (value: Double?, readAt: Date)]>([:])

    init(store: any BatchStore) { self.store = store }

    func median(for job: JobID, now: Date = Date()) -> Double? {
        // Before the first success there is no median yet: ask again soon.
        if let entry = entries.withLock({ $0[job] }), now.timeIntervalSince(entry.readAt) < (entry.value == nil ? 0.05 : 1) {
            return entry.value
        }
        let value = try? store.resultsMedianDuration(job: job)
        entries.withLock { entries in
            if entries.count > 1000 { entries.removeAll() }
            entries[job] = (value ?? nil, now)
        }
        return value ?? nil
    }
}
