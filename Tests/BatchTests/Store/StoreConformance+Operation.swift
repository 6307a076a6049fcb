import BatchStore
import Foundation
import Testing

extension StoreConformance {
    /// The backlog a daemon's metrics show: pending and running items, jobs
    /// by state, and how long the oldest waiting job has waited.
    static func backlogCountsPendingRunningAndJobs(_ make: Factory) throws {
        let store = try make()
        let empty = try store.storeBacklog(now: t0)
        #expect(empty.pendingItems == 0 && empty.runningItems == 0 && empty.oldestPendingSeconds == 0)
        #expect(empty.jobs.values.allSatisfy { $0 == 0 } && empty.jobs.count == JobState.allCases.count)

        let older = try store.jobCreate(spec(chunkSize: .fixed(2)), now: t0)
        try store.itemsAppendIfOpen(job: older.id, firstLine: 1, items: items(["a", "b", "c", "d", "e"]))
        _ = try store.jobSealIfOpen(older.id, now: t0)
        let cancelled = try store.jobCreate(spec(), now: t0)
        _ = try store.jobCancelIfRunnable(cancelled.id, now: t0)
        // A chunk of lines 1-2, one of them recorded.
        let lease = try #require(try claim(store, "d1"))
        #expect(lease.job.id == older.id && lease.firstLine == 1 && lease.lastLine == 2)
        _ = try store.resultsRecordIfLeaseHeld(lease, results: [ItemRecord(1, ok("a"), 1)], completesChunk: false, now: t0)
        let newer = try store.jobCreate(spec(), now: t0.addingTimeInterval(50))
        try store.itemsAppendIfOpen(job: newer.id, firstLine: 1, items: items(["x"]))

        let backlog = try store.storeBacklog(now: t0.addingTimeInterval(100))
        #expect(backlog.runningItems == 1, "line 2: leased, no result")
        #expect(backlog.pendingItems == 4, "lines 3-5 of the older job and the newer job's line")
        #expect(backlog.jobs[.sealed] == 1 && backlog.jobs[.open] == 1 && backlog.jobs[.cancelled] == 1)
        #expect(abs(backlog.oldestPendingSeconds - 100) < 0.01, "the older job waits since its submission")

        // Everything leased: nothing waits.
        while try claim(store, "d1") != nil {}
        let leased = try store.storeBacklog(now: t0.addingTimeInterval(100))
        #expect(leased.pendingItems == 0 && leased.runningItems == 5 && leased.oldestPendingSeconds == 0)
    }

    /// The finish times of chosen completion sequences (the dashboard's
    /// throughput history): those that exist, by sequence.
    static func finishTimesBySequence(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(3)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["a", "b", "c"]))
        let lease = try #require(try claim(store, "d1"))
        _ = try store.resultsRecordIfLeaseHeld(
            lease, results: [ItemRecord(3, ok("c", at: t0.addingTimeInterval(5)), 1), ItemRecord(1, ok("a", at: t0.addingTimeInterval(7)), 1)],
            completesChunk: false, now: t0)
        let times = try store.resultsFinishTimes(job: job.id, sequences: [1, 2, 9])
        #expect(times == [1: t0.addingTimeInterval(5), 2: t0.addingTimeInterval(7)])
        #expect(try store.resultsFinishTimes(job: job.id, sequences: []).isEmpty)
    }

    /// A readiness probe writes nothing.
    static func probeWriteChangesNothing(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(), now: t0)
        let before = store.storageVersion()
        try store.storageProbeWrite(timeout: 1)
        #expect(try store.jobFetch(job.id) == job)
        #expect(store.storageVersion() == before)
    }
}
