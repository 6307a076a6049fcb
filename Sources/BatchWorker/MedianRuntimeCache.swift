import BatchStore
import Foundation
import Synchronization

/// The median runtime of a job's successful items, for `--timeout N%`,
/// read from the store at most once a second per job (it is a query over up
/// to 1,001 results, and every item start needs it).
final class MedianRuntimeCache: Sendable {
    private let store: any BatchStore
    private let faults: StoreFaultLog
    private let entries = Mutex<[JobID: (value: Double?, readAt: Date)]>([:])

    init(store: any BatchStore, faults: StoreFaultLog) {
        self.store = store
        self.faults = faults
    }

    func median(for job: JobID, now: Date = Date()) -> Double? {
        // Before the first success there is no median yet: ask again soon.
        if let entry = entries.withLock({ $0[job] }), now.timeIntervalSince(entry.readAt) < (entry.value == nil ? 0.05 : 1) {
            return entry.value
        }
        let value: Double?
        do {
            value = try store.resultsMedianDuration(job: job)
            faults.succeeded("reading the median runtime")
        } catch {
            // No median for now: the item runs without a timeout, and the next asks again.
            faults.failed("reading the median runtime", error)
            return nil
        }
        entries.withLock { entries in
            if entries.count > 1000 { entries.removeAll() }
            entries[job] = (value, now)
        }
        return value
    }
}
