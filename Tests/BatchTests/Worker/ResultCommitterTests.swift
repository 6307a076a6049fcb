import BatchStore
@testable import BatchWorker
import Foundation
import GRDB
import Logging
import Testing

/// The pool's group committer against a real SQLite file.
@Suite struct ResultCommitterTests {
    let directory = TemporaryDirectory()

    func ok(_ text: String) -> ItemOutcome {
        ItemOutcome(status: .succeeded, exitStatus: 0, output: Data(text.utf8), startedAt: Date(), finishedAt: Date())
    }

    func setUp(items: Int) throws -> (SQLiteStore, ResultCommitter, JobID) {
        let store = try SQLiteStore(path: directory.file("commit.db"))
        let job = try store.jobCreate(
            JobSpec(command: ["unused"], workingDirectory: "/", environment: [], chunkSize: .fixed(2)), now: Date())
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: (1...items).map { Data("\($0)".utf8) })
        _ = try store.jobSealIfOpen(job.id, now: Date())
        let logger = Logger(label: "test")
        let committer = ResultCommitter(
            store: store, faults: StoreFaultLog(logger: logger), metrics: PoolMetrics(), linger: .seconds(30))
        return (store, committer, job.id)
    }

    /// A job of two items with a claimed lease, in a store whose write lock
    /// another connection holds (COMMIT on `holder` frees it).
    func lockedStore(_ name: String) async throws -> (SQLiteStore, Job, ChunkLease, DatabaseQueue) {
        let path = directory.file(name)
        let store = try SQLiteStore(path: path, busyTimeout: 0.1)
        let job = try store.jobCreate(
            JobSpec(command: ["unused"], workingDirectory: "/", environment: [], chunkSize: .fixed(2)), now: Date())
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: [Data("1".utf8), Data("2".utf8)])
        let lease = try claim(store, "a")
        var holding = Configuration()
        holding.allowsUnsafeTransactions = true
        let holder = try DatabaseQueue(path: path, configuration: holding)
        try await holder.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        return (store, job, lease, holder)
    }

    func claim(_ store: SQLiteStore, _ owner: String) throws -> ChunkLease {
        try #require(try store.chunkClaim(owner: owner, now: Date(), leaseDuration: 30) { _, _ in 2 })
    }

    @Test func oneCommitForEveryLeaseWithAVerdictForEachThatDidNotRecord() async throws {
        let (store, committer, job) = try setUp(items: 6)
        let held = try claim(store, "a")
        let lost = try claim(store, "b")
        let idle = try claim(store, "a")
        #expect(try store.daemonDeleteReleasingChunks(id: "b") == 1)
        let loop = Task { await committer.run() }

        await committer.submit(held, [ItemRecord(1, ok("1"), 1)], completesChunk: false)
        await committer.submit(lost, [ItemRecord(3, ok("3"), 1)], completesChunk: false)
        #expect(try store.resultsByLine(job: job, afterLine: 0, limit: 10).isEmpty, "held back for the linger, which a flush cuts short")
        let flushing = Date()
        await committer.flush()
        #expect(Date().timeIntervalSince(flushing) < 10, "the flush cut the 30 s linger short")
        #expect(try store.resultsByLine(job: job, afterLine: 0, limit: 10).map(\.line) == [1])
        #expect(committer.verdict(for: held) == nil)
        #expect(committer.verdict(for: lost) == .leaseLost)

        // Once a commit finds the job ended, every lease of the job hears of it.
        #expect(try store.jobCancelIfRunnable(job, now: Date()))
        await committer.submit(held, [ItemRecord(2, ok("2"), 1)], completesChunk: true)
        await committer.flush()
        #expect(committer.verdict(for: held) == .jobEnded)
        #expect(committer.verdict(for: idle) == .jobEnded)
        committer.begin(idle)
        #expect(committer.verdict(for: idle) == nil, "a new lease proves the job runnable again")
        #expect(try store.resultsByLine(job: job, afterLine: 0, limit: 10).map(\.line) == [1])

        committer.finish()
        await loop.value
        await committer.flush()  // returns at once once the loop has stopped
    }

    /// A group already waiting is committed without the linger: in stream
    /// mode the commits follow one another, and lingering after each one
    /// left the daemon's busiest thread idle.
    @Test func aGroupAlreadyWaitingIsCommittedWithoutTheLinger() async throws {
        let (store, committer, job) = try setUp(items: 300)
        let lease = try #require(try store.chunkClaim(owner: "a", now: Date(), leaseDuration: 30) { _, _ in 300 })
        let loop = Task { await committer.run() }
        committer.submitNow(lease, (1...300).map { ItemRecord(Int64($0), ok("\($0)"), 1) }, completesChunk: true)
        // The linger is 30 s: a commit seen within the 10 s looked for here did not wait for it.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, try store.jobFetch(job)?.state != .complete {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(try store.jobFetch(job)?.state == .complete, "300 results (over lingerBelow) committed at once")
        committer.finish()
        await loop.value
    }

    @Test func finishingCommitsWhatIsLeftAtOnce() async throws {
        let (store, committer, job) = try setUp(items: 2)
        let lease = try claim(store, "a")
        let loop = Task { await committer.run() }
        committer.submitNow(lease, [ItemRecord(1, ok("1"), 1), ItemRecord(2, ok("2"), 2)], completesChunk: true)
        committer.finish()
        await loop.value
        #expect(try store.jobFetch(job)?.state == .complete)
        #expect(try store.resultsByLine(job: job, afterLine: 0, limit: 10).map(\.attempts) == [1, 2])
    }

    @Test func waitersStopWaitingWhenCancelledWhileTheStoreCannotBeWritten() async throws {
        // Another connection holds the write lock: every commit fails (busy).
        let (store, job, lease, holder) = try await lockedStore("locked.db")
        let committer = ResultCommitter(
            store: store, faults: StoreFaultLog(logger: Logger(label: "test")), metrics: PoolMetrics(),
            linger: .milliseconds(1), capacity: 1)
        let loop = Task { await committer.run() }
        committer.submitNow(lease, [ItemRecord(1, ok("1"), 1), ItemRecord(2, ok("2"), 1)], completesChunk: true)

        let waiting = Task { await committer.waitForRoom() }
        let flushing = Task { await committer.flush() }
        try await Task.sleep(for: .milliseconds(300))
        let cancelled = Date()
        waiting.cancel()
        flushing.cancel()
        await waiting.value
        await flushing.value
        #expect(Date().timeIntervalSince(cancelled) < 5, "cancelled waiters return while the fault lasts")

        // Once the lock is free the results are committed.
        try await holder.writeWithoutTransaction { try $0.execute(sql: "COMMIT") }
        committer.finish()
        await loop.value
        #expect(try store.resultsByLine(job: job.id, afterLine: 0, limit: 10).map(\.line) == [1, 2])
    }

    /// Bytes being committed count against the committer's room as well as
    /// bytes waiting: large outputs (15 MB each) used to pile up eight at a
    /// time while a commit was writing, because a taken batch no longer counted.
    @Test func bytesBeingCommittedStillTakeRoom() async throws {
        // The commit cannot finish while another connection holds the write lock.
        let (store, job, lease, holder) = try await lockedStore("room.db")
        let committer = ResultCommitter(
            store: store, faults: StoreFaultLog(logger: Logger(label: "test")), metrics: PoolMetrics(),
            linger: .milliseconds(1), capacityBytes: 1 << 20)
        let loop = Task { await committer.run() }
        let big = ItemOutcome(
            status: .succeeded, exitStatus: 0, output: Data(count: 2 << 20), startedAt: Date(), finishedAt: Date())
        committer.submitNow(lease, [ItemRecord(1, big, 1)], completesChunk: false)
        #expect(committer.isFull)
        // The commit loop takes the batch (it is no longer waiting) and retries it.
        try await Task.sleep(for: .milliseconds(300))
        #expect(committer.isFull, "the output being committed is still in memory")
        try await holder.writeWithoutTransaction { try $0.execute(sql: "COMMIT") }
        await committer.flush()
        #expect(!committer.isFull)
        committer.finish()
        await loop.value
        #expect(try store.resultsByLine(job: job.id, afterLine: 0, limit: 10).map(\.line) == [1])
    }
}
