import BatchStore
import BatchWorker
import Foundation
import Logging
import ServiceLifecycleTestKit
import Synchronization
import Testing

/// The worker pool in-process, with Swift closures as handlers and a real
/// SQLite file.
@Suite struct WorkerPoolTests {
    let directory = TemporaryDirectory()
    let logger = Logger(label: "test")

    func makeJob(_ store: SQLiteStore, items: Int, chunkSize: ChunkSizePolicy = .auto) throws -> JobID {
        let job = try store.jobCreate(
            JobSpec(command: ["unused"], workingDirectory: "/", environment: [], chunkSize: chunkSize), now: Date())
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: (1...items).map { Data("item-\($0)".utf8) })
        _ = try store.jobSealIfOpen(job.id, now: Date())
        return job.id
    }

    func until(_ timeout: Double = 30, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return try condition()
    }

    @Test func runsEveryItemOnceAndRecordsItsResult() async throws {
        let store = try SQLiteStore(path: directory.file("pool.db"))
        let id = try makeJob(store, items: 200)
        let runs = Mutex<[Int64: Int]>([:])
        let handler = ClosureHandler { item, _ in
            runs.withLock { $0[item.line, default: 0] += 1 }
            return item.data + Data("!".utf8)
        }
        let pool = WorkerPool(
            store: store, handler: handler, configuration: WorkerPoolConfiguration(owner: "pool", workers: 3),
            logger: logger)
        try await testGracefulShutdown { trigger in
            async let running: Void = pool.run()
            #expect(try await until { try store.jobFetch(id)?.state == .complete })
            trigger.triggerGracefulShutdown()
            try await running
        }
        let results = try store.resultsByLine(job: id, afterLine: 0, limit: 1000)
        #expect(results.map(\.line) == Array(1...200))
        #expect(results.allSatisfy { $0.outcome.output == Data("item-\($0.line)!".utf8) })
        #expect(runs.withLock { $0.values.allSatisfy { $0 == 1 } && $0.count == 200 })
    }

    /// A stream job goes through the handler: an in-process handler runs
    /// its items and never starts the job's command (which would write its
    /// marker file here).
    @Test func aStreamJobGoesThroughAnInProcessHandler() async throws {
        let store = try SQLiteStore(path: directory.file("stream.db"))
        let marker = directory.file("started")
        let job = try store.jobCreate(
            JobSpec(command: ["sh", "-c", "touch \(marker); cat"], workingDirectory: "/", environment: [], stream: true),
            now: Date())
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: (1...50).map { Data("item-\($0)".utf8) })
        _ = try store.jobSealIfOpen(job.id, now: Date())
        let handled = Mutex(0)
        let handler = ClosureHandler { item, _ in
            handled.withLock { $0 += 1 }
            return item.data + Data("?".utf8)
        }
        let pool = WorkerPool(
            store: store, handler: handler, configuration: WorkerPoolConfiguration(owner: "pool", workers: 2),
            logger: logger)
        try await testGracefulShutdown { trigger in
            async let running: Void = pool.run()
            #expect(try await until { try store.jobFetch(job.id)?.state == .complete })
            trigger.triggerGracefulShutdown()
            try await running
        }
        let results = try store.resultsByLine(job: job.id, afterLine: 0, limit: 100)
        #expect(results.map(\.line) == Array(1...50))
        #expect(results.allSatisfy { $0.outcome.output == Data("item-\($0.line)?".utf8) })
        #expect(handled.withLock { $0 } == 50, "every item went through the handler")
        #expect(!FileManager.default.fileExists(atPath: marker), "the job's command never started")
    }

    @Test func failuresAreRecordedAsValues() async throws {
        struct Refused: Error, CustomStringConvertible { var description: String { "refused" } }
        let store = try SQLiteStore(path: directory.file("fail.db"))
        let id = try makeJob(store, items: 10, chunkSize: .fixed(4))
        let handler = ClosureHandler { item, _ in
            if item.line % 3 == 0 { throw Refused() }
            return item.data
        }
        let pool = WorkerPool(
            store: store, handler: handler, configuration: WorkerPoolConfiguration(owner: "pool", workers: 2),
            logger: logger)
        try await testGracefulShutdown { trigger in
            async let running: Void = pool.run()
            #expect(try await until { try store.jobFetch(id)?.state == .complete })
            trigger.triggerGracefulShutdown()
            try await running
        }
        let job = try #require(try store.jobFetch(id))
        #expect(job.failedCount == 3)
        let failed = try store.resultsByLine(job: id, afterLine: 0, limit: 100).filter { $0.outcome.status == .failed }
        #expect(failed.map(\.line) == [3, 6, 9])
        #expect(failed.first?.outcome.reason == "refused")
    }

    @Test func gracefulStopPastGraceKillsAndHandsBack() async throws {
        let store = try SQLiteStore(path: directory.file("grace.db"))
        let id = try makeJob(store, items: 4, chunkSize: .fixed(2))
        let started = Atomic<Int>(0)
        let handler = ClosureHandler { item, _ in
            started.add(1, ordering: .relaxed)
            try await Task.sleep(for: .seconds(600))
            return item.data
        }
        let pool = WorkerPool(
            store: store, handler: handler,
            configuration: WorkerPoolConfiguration(owner: "pool", workers: 2, grace: .milliseconds(100)),
            logger: logger)
        let began = Date()
        try await testGracefulShutdown { trigger in
            async let running: Void = pool.run()
            #expect(try await until { started.load(ordering: .relaxed) == 2 })
            trigger.triggerGracefulShutdown()
            try await running
        }
        #expect(Date().timeIntervalSince(began) < 60, "the grace period ended the 600 s items")
        // Both chunks were handed back: another daemon claims them at once, from line 1.
        let next = try #require(try store.chunkClaim(owner: "other", now: Date(), leaseDuration: 30) { _, _ in 2 })
        #expect(next.firstLine == 1)
        #expect(try store.jobFetch(id)?.finishedCount == 0)
    }

    @Test func lostLeaseStopsTheItemAndRecordsNothing() async throws {
        let store = try SQLiteStore(path: directory.file("lost.db"))
        let id = try makeJob(store, items: 1, chunkSize: .fixed(1))
        let cancelled = Atomic<Bool>(false)
        let handler = ClosureHandler { item, _ in
            do {
                try await Task.sleep(for: .seconds(600))
            } catch {
                cancelled.store(true, ordering: .relaxed)
                throw error
            }
            return item.data
        }
        let pool = WorkerPool(
            store: store, handler: handler,
            configuration: WorkerPoolConfiguration(owner: "slow", workers: 1, watchInterval: .milliseconds(20)),
            logger: logger)
        try await testGracefulShutdown { trigger in
            async let running: Void = pool.run()
            // The pool holds the chunk; then it is declared dead and another daemon takes the chunk over.
            #expect(try await until { try store.chunksRenewLeases(owner: "slow", now: Date(), leaseDuration: 30) == 1 })
            _ = try store.daemonDeleteReleasingChunks(id: "slow")
            let takeover = try #require(try store.chunkClaim(owner: "fast", now: Date(), leaseDuration: 30) { _, _ in 1 })
            #expect(try await until { cancelled.load(ordering: .relaxed) }, "the stale run was stopped")
            let outcome = ItemOutcome(status: .succeeded, output: Data("fast".utf8), startedAt: Date(), finishedAt: Date())
            #expect(try store.resultsRecordIfLeaseHeld(takeover, results: [ItemRecord(1, outcome, 1)], completesChunk: true, now: Date()) == .recorded)
            trigger.triggerGracefulShutdown()
            try await running
        }
        #expect(try store.resultsByLine(job: id, afterLine: 0, limit: 10).map(\.outcome.output) == [Data("fast".utf8)])
    }

    @Test func adaptiveChunksGrowWithFastItemsAndShareTheRest() {
        let sizer = AdaptiveChunkSizer(workers: 2, targetChunkDuration: 0.25)
        let job = Job(
            id: JobID(1), spec: JobSpec(command: ["x"], workingDirectory: "/", environment: []), state: .sealed,
            itemCount: 100_000, finishedCount: 0, failedCount: 0, createdAt: Date(), sealedAt: nil, finishedAt: nil)
        #expect(sizer.size(for: job, unclaimed: 100_000) == 1, "nothing measured yet")
        for _ in 0..<20 { sizer.observe(job: job.id, seconds: 0.001) }
        #expect((200...300).contains(sizer.size(for: job, unclaimed: 100_000)))
        #expect(sizer.size(for: job, unclaimed: 10) == 5, "never more than a worker's share of what is left")
        for _ in 0..<50 { sizer.observe(job: job.id, seconds: 2) }
        #expect(sizer.size(for: job, unclaimed: 100_000) == 1)
    }

    /// Very fast items make chunks of up to `maximum` items, but never more
    /// than about `maximumBytes` of input: a chunk's items are read at once.
    @Test func adaptiveChunksStopAtTheirMaximumAndAtTheirBytes() {
        let sizer = AdaptiveChunkSizer(workers: 2, targetChunkDuration: 0.25)
        func job(_ id: Int64) -> Job {
            Job(
                id: JobID(id), spec: JobSpec(command: ["x"], workingDirectory: "/", environment: []), state: .sealed,
                itemCount: 1_000_000, finishedCount: 0, failedCount: 0, createdAt: Date(), sealedAt: nil, finishedAt: nil)
        }
        sizer.observe(job: JobID(1), seconds: 0.000_003, bytes: 7)
        #expect(sizer.size(for: job(1), unclaimed: 1_000_000) == 8000, "3 µs items: the cap, not 0.25 s of them")
        sizer.observe(job: JobID(2), seconds: 0.000_003, bytes: 1_048_576)
        #expect(sizer.size(for: job(2), unclaimed: 1_000_000) == 8, "1 MiB items: 8 MiB a chunk")
        sizer.observe(job: JobID(3), seconds: 0.000_003)
        #expect(sizer.size(for: job(3), unclaimed: 1_000_000) == 8000, "no size measured: the cap")
    }

    /// The safety net of issue 9: a chunk this pool holds in the store but no
    /// slot works on (leaked by a path that claimed without running) is
    /// handed back at the second audit, and its items run.
    @Test func aChunkHeldWithNoWorkerIsHandedBack() async throws {
        let store = try SQLiteStore(path: directory.file("audit.db"))
        let id = try makeJob(store, items: 6, chunkSize: .fixed(3))
        // The leak: a claim under the pool's own name that no slot knows of.
        let leaked = try #require(try store.chunkClaim(owner: "pool", now: Date(), leaseDuration: 3600) { _, _ in 3 })
        var configuration = WorkerPoolConfiguration(owner: "pool", workers: 2)
        configuration.auditInterval = .milliseconds(100)
        let pool = WorkerPool(store: store, handler: ClosureHandler { item, _ in item.data }, configuration: configuration, logger: logger)
        try await testGracefulShutdown { trigger in
            async let running: Void = pool.run()
            #expect(try await until { try store.jobFetch(id)?.state == .complete }, "the leaked chunk's items ran")
            trigger.triggerGracefulShutdown()
            try await running
        }
        #expect(try store.resultsByLine(job: id, afterLine: 0, limit: 10).map(\.line) == Array(1...6))
        #expect(try store.resultsByLine(job: id, afterLine: 0, limit: 10).first?.attempts == 1)
        _ = leaked
    }

    /// Self-fencing (issue 12): a worker whose lease cannot be confirmed for
    /// a whole lease duration (the store stops answering) stops the chunk's
    /// running item and records nothing for it. Before, a failed lease check
    /// read as "still held", and the item ran on for ever.
    @Test func aWorkerWhoseLeaseCannotBeConfirmedStopsItsItem() async throws {
        let real = try SQLiteStore(path: directory.file("fence.db"))
        let store = FaultInjectingStore(real)
        let id = try makeJob(real, items: 3, chunkSize: .fixed(3))
        let starts = Mutex(0)
        let stopped = Mutex(0)
        let handler = ClosureHandler { _, _ in
            starts.withLock { $0 += 1 }
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                stopped.withLock { $0 += 1 }
                throw error
            }
            return Data()
        }
        let pool = WorkerPool(
            store: store, handler: handler,
            configuration: WorkerPoolConfiguration(owner: "fence", workers: 1, leaseDuration: 2), logger: logger)
        try await testGracefulShutdown { trigger in
            async let running: Void = pool.run()
            #expect(try await until { starts.withLock { $0 } == 1 })
            store.fail(["leaseStatus", "resultsRecordIfLeasesHeld"])
            // Checked every 200 ms: stopped once 2 s pass without a confirmation.
            #expect(try await until(15) { stopped.withLock { $0 } >= 1 }, "the item ran on with its lease unconfirmed")
            trigger.triggerGracefulShutdown()
            try await running
        }
        #expect(try real.resultsByLine(job: id, afterLine: 0, limit: 10).isEmpty)
    }
}
