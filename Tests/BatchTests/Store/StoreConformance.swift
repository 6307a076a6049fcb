import BatchBackends
import BatchPostgres
import BatchStore
import Foundation
import Synchronization
import Testing

/// The behaviour every `BatchStore` backend must have. A backend's test suite
/// calls each of these with a factory that opens a fresh, empty store.
enum StoreConformance {
    typealias Factory = () throws -> any BatchStore

    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func spec(_ command: [String] = ["echo"], chunkSize: ChunkSizePolicy = .fixed(2)) -> JobSpec {
        JobSpec(
            command: command, workingDirectory: "/tmp",
            environment: [Data("PATH=/usr/bin:/bin".utf8), Data([0x4C, 0x41, 0x4E, 0x47, 0x3D, 0xFF, 0xFE])],
            chunkSize: chunkSize)
    }

    static func items(_ texts: [String]) -> [Data] { texts.map { Data($0.utf8) } }

    /// A second instance of the same store (another connection).
    static func reopen(_ store: any BatchStore) throws -> any BatchStore {
        if case .postgres(let conninfo) = store.location { return try PostgresStore(conninfo: conninfo) }
        return try StoreFactory.open(store.location)
    }

    static func ok(_ text: String, at time: Date = t0) -> ItemOutcome {
        ItemOutcome(status: .succeeded, exitStatus: 0, output: Data(text.utf8), startedAt: time, finishedAt: time)
    }

    static func claim(_ store: any BatchStore, _ owner: String, at time: Date = t0, lease: TimeInterval = 30)
        throws -> ChunkLease?
    {
        try store.chunkClaim(owner: owner, now: time, leaseDuration: lease) { job, _ in
            job.spec.chunkSize.storedValue > 0 ? job.spec.chunkSize.storedValue : 1
        }
    }

    // MARK: - Jobs

    static func jobRoundTrip(_ make: Factory) throws {
        let store = try make()
        let created = try store.jobCreate(spec(["sh", "-c", "echo {}"]), now: t0)
        #expect(created.state == .open)
        #expect(created.itemCount == 0)
        let fetched = try #require(try store.jobFetch(created.id))
        #expect(fetched == created)
        #expect(fetched.spec == spec(["sh", "-c", "echo {}"]))
        #expect(try store.jobFetch(JobID(created.id.rawValue + 100)) == nil)
        let second = try store.jobCreate(spec(), now: t0)
        #expect(try store.jobsList(limit: 10).map(\.id) == [second.id, created.id])
        #expect(try store.jobsList(limit: 1).map(\.id) == [second.id])
        #expect(try store.jobsList(limit: 10, states: nil, before: second.id).map(\.id) == [created.id], "the next page")
        #expect(try store.jobsList(limit: 10, states: nil, before: created.id).isEmpty)
    }

    static func appendKeepsOrderAndBytes(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(), now: t0)
        let binary = Data([0xFF, 0x00, 0xC3, 0x28])
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["a", "b"]))
        try store.itemsAppendIfOpen(job: job.id, firstLine: 3, items: [binary])
        #expect(try store.jobFetch(job.id)?.itemCount == 3)
        #expect(try store.itemFetch(job: job.id, line: 3) == binary)
        #expect(try store.itemFetch(job: job.id, line: 4) == nil)
        // A second submitter writing the same lines fails instead of interleaving.
        let error = #expect(throws: StoreError.self) {
            try store.itemsAppendIfOpen(job: job.id, firstLine: 2, items: items(["x"]))
        }
        #expect(error?.code == .itemOrder)
        #expect(try store.jobFetch(job.id)?.itemCount == 3)
    }

    static func sealing(_ make: Factory) throws {
        let store = try make()
        let empty = try store.jobCreate(spec(), now: t0)
        let sealedEmpty = try store.jobSealIfOpen(empty.id, now: t0)
        #expect(sealedEmpty.state == .complete, "an empty job completes as soon as it is sealed")
        let job = try store.jobCreate(spec(), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["a"]))
        #expect(try store.jobSealIfOpen(job.id, now: t0).state == .sealed)
        #expect(throws: StoreError.self) { try store.jobSealIfOpen(job.id, now: t0) }
        let appendError = #expect(throws: StoreError.self) {
            try store.itemsAppendIfOpen(job: job.id, firstLine: 2, items: items(["b"]))
        }
        #expect(appendError?.code == .jobState)
        let missing = #expect(throws: StoreError.self) { try store.jobSealIfOpen(JobID(9999), now: t0) }
        #expect(missing?.code == .jobNotFound)
    }

    // MARK: - Claims and results

    static func claimsInInputOrderWhileInputArrives(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(2)), now: t0)
        #expect(try claim(store, "d1") == nil, "nothing to claim before items arrive")
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2", "3"]))
        let first = try #require(try claim(store, "d1"))
        #expect((first.firstLine, first.lastLine) == (1, 2))
        let second = try #require(try claim(store, "d2"))
        #expect((second.firstLine, second.lastLine) == (3, 3), "a chunk never waits for items not yet stored")
        #expect(try claim(store, "d1") == nil)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 4, items: items(["4"]))
        let third = try #require(try claim(store, "d1"))
        #expect((third.firstLine, third.lastLine) == (4, 4))
        #expect(try store.itemsPending(for: first, afterLine: 0, limit: 10).map(\.line) == [1, 2])
    }

    static func recordingAssignsCompletionOrderAndCompletes(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(1)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "5", "3"]))
        _ = try store.jobSealIfOpen(job.id, now: t0)
        let leases = try (0..<3).map { _ in try #require(try claim(store, "d1")) }
        // Finish in the order 1, 3, 2.
        for lease in [leases[0], leases[2], leases[1]] {
            let outcome = try store.resultsRecordIfLeaseHeld(
                lease, results: [ItemRecord(lease.firstLine, ok("r\(lease.firstLine)"), 1)], completesChunk: true, now: t0)
            #expect(outcome == .recorded)
        }
        let done = try #require(try store.jobFetch(job.id))
        #expect(done.state == .complete)
        #expect(done.finishedCount == 3)
        #expect(try store.resultsByLine(job: job.id, afterLine: 0, limit: 10).map(\.line) == [1, 2, 3])
        let byCompletion = try store.resultsBySequence(job: job.id, afterSequence: 0, limit: 10)
        #expect(byCompletion.map(\.line) == [1, 3, 2])
        #expect(byCompletion.map(\.sequence) == [1, 2, 3])
        #expect(try store.resultsBySequence(job: job.id, afterSequence: 1, limit: 1).map(\.line) == [3])
        #expect(try store.resultsByLine(job: job.id, afterLine: 1, limit: 10).map(\.outcome.output) == items(["r2", "r3"]))
        #expect(try claim(store, "d1") == nil, "a complete job has nothing to claim")
    }

    /// Every field of a result reads back as it was recorded, whichever
    /// way the store writes it: the SQLite store inserts a result with no
    /// signal, reason, stderr, retry or group by its first seven columns
    /// only (schema v12) and the others by all of them.
    static func everyFieldOfAResultReadsBackAsRecorded(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(6)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["a", "b", "c", "d", "e", "f"]))
        let lease = try #require(try claim(store, "d1"))
        let later = t0.addingTimeInterval(2.5)
        let records = [
            ItemRecord(1, ok("a\n"), 1),
            ItemRecord(2, ItemOutcome(status: .failed, exitStatus: 1, startedAt: t0, finishedAt: later), 1),
            ItemRecord(3, ItemOutcome(
                status: .failed, exitStatus: 3, output: Data("partial".utf8), errorOutput: Data("boom\n".utf8),
                startedAt: t0, finishedAt: later), 1),
            ItemRecord(4, ItemOutcome(
                status: .failed, signal: 9, reason: "timed out after 2.5 s", startedAt: t0, finishedAt: later), 1),
            ItemRecord(5, ok("e\n", at: later), 3),
            ItemRecord(6, ItemOutcome(
                status: .succeeded, exitStatus: 0, output: Data("f\n".utf8), startedAt: t0, finishedAt: later, group: 6...6), 1),
        ]
        #expect(try store.resultsRecordIfLeaseHeld(lease, results: records, completesChunk: true, now: later) == .recorded)
        func fields(_ result: ItemResult) -> [String] {
            let o = result.outcome
            return [
                "\(result.line)", "\(result.attempts)", o.status.rawValue, "\(o.exitStatus.map(String.init) ?? "-")",
                "\(o.signal.map(String.init) ?? "-")", String(decoding: o.output, as: UTF8.self),
                String(decoding: o.errorOutput, as: UTF8.self), o.reason ?? "-",
                "\(o.duration)", "\(o.group.map { "\($0.lowerBound)-\($0.upperBound)" } ?? "-")",
            ]
        }
        let expected = records.map { record in
            fields(ItemResult(line: record.line, sequence: 0, outcome: record.outcome, attempts: record.attempts))
        }
        #expect(try store.resultsByLine(job: job.id, afterLine: 0, limit: 10).map(fields) == expected)
        #expect(try store.resultsBySequence(job: job.id, afterSequence: 0, limit: 10).map(fields) == expected)
        #expect(try store.resultsFailed(job: job.id, limit: 10).map(\.line) == [2, 3, 4])
    }

    static func failuresAreCountedAndBytesKept(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(2)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["a", "b"]))
        let lease = try #require(try claim(store, "d1"))
        let binary = Data([0xFF, 0xFE, 0x00, 0x0A])
        let failure = ItemOutcome(
            status: .failed, exitStatus: 3, output: Data(), errorOutput: Data("boom\n".utf8), startedAt: t0,
            finishedAt: t0)
        #expect(try store.resultsRecordIfLeaseHeld(
            lease, results: [ItemRecord(1, ok(String(decoding: binary, as: UTF8.self)), 1), ItemRecord(2, failure, 1)],
            completesChunk: true, now: t0) == .recorded)
        let job2 = try #require(try store.jobFetch(job.id))
        #expect(job2.failedCount == 1)
        #expect(job2.succeededCount == 1)
        let results = try store.resultsByLine(job: job.id, afterLine: 0, limit: 10)
        #expect(results[1].outcome.status == .failed)
        #expect(results[1].outcome.exitStatus == 3)
        #expect(results[1].outcome.errorOutput == Data("boom\n".utf8))
        // Raw bytes survive too.
        let job3 = try store.jobCreate(spec(chunkSize: .fixed(1)), now: t0)
        try store.itemsAppendIfOpen(job: job3.id, firstLine: 1, items: [binary])
        let lease3 = try #require(try claim(store, "d1"))
        var outcome = ok("")
        outcome.output = binary
        _ = try store.resultsRecordIfLeaseHeld(lease3, results: [ItemRecord(1, outcome, 1)], completesChunk: true, now: t0)
        #expect(try store.resultsByLine(job: job3.id, afterLine: 0, limit: 1).first?.outcome.output == binary)
    }

    /// The fencing guarantee: after a take-over, the old holder's write is
    /// rejected and each item ends with exactly one result.
    static func staleWriterIsFenced(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(3)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2", "3"]))
        _ = try store.jobSealIfOpen(job.id, now: t0)
        let old = try #require(try claim(store, "dead"))
        #expect(try store.resultsRecordIfLeaseHeld(old, results: [ItemRecord(1, ok("old-1"), 1)], completesChunk: false, now: t0) == .recorded)
        // The holder is found dead: its chunk goes back and another daemon takes it.
        #expect(try store.daemonDeleteReleasingChunks(id: "dead") == 1)
        let new = try #require(try claim(store, "alive"))
        #expect(new.chunkID == old.chunkID)
        #expect(new.fence > old.fence)
        #expect(try store.leaseStatus(old) == .lost)
        #expect(try store.leaseStatus(new) == .held)
        #expect(try store.itemsPending(for: new, afterLine: 0, limit: 10).map(\.line) == [2, 3], "recorded items are not run again")
        #expect(try store.resultsRecordIfLeaseHeld(old, results: [ItemRecord(2, ok("old-2"), 1)], completesChunk: false, now: t0) == .leaseLost)
        #expect(try store.resultsRecordIfLeaseHeld(
            new, results: [ItemRecord(2, ok("new-2"), 1), ItemRecord(3, ok("new-3"), 1)], completesChunk: true, now: t0) == .recorded)
        let outputs = try store.resultsByLine(job: job.id, afterLine: 0, limit: 10).map(\.outcome.output)
        #expect(outputs == items(["old-1", "new-2", "new-3"]))
        #expect(try store.jobFetch(job.id)?.state == .complete)
    }

    static func groupCommitGuardsEachBatchByItsOwnLease(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(2)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2", "3", "4", "5", "6"]))
        _ = try store.jobSealIfOpen(job.id, now: t0)
        let first = try #require(try claim(store, "a"))
        let lost = try #require(try claim(store, "b"))
        let third = try #require(try claim(store, "a"))
        #expect(try store.daemonDeleteReleasingChunks(id: "b") == 1)
        let outcomes = try store.resultsRecordIfLeasesHeld([
            ResultBatch(lease: third, results: [ItemRecord(5, ok("5"), 1)], completesChunk: false),
            ResultBatch(lease: lost, results: [ItemRecord(3, ok("3"), 1), ItemRecord(4, ok("4"), 1)], completesChunk: true),
            ResultBatch(lease: first, results: [ItemRecord(1, ok("1"), 1), ItemRecord(2, ok("2"), 2)], completesChunk: true),
            ResultBatch(lease: third, results: [ItemRecord(6, ok("6"), 1)], completesChunk: true),
        ], now: t0)
        #expect(outcomes == [.recorded, .leaseLost, .recorded, .recorded])
        let recorded = try store.resultsBySequence(job: job.id, afterSequence: 0, limit: 10)
        #expect(recorded.map(\.line) == [5, 1, 2, 6], "completion order follows the batches; the lost lease's are not there")
        #expect(recorded.map(\.attempts) == [1, 1, 2, 1])
        #expect(try store.jobFetch(job.id)?.finishedCount == 4)
        let retaken = try #require(try claim(store, "c"))
        #expect(retaken.chunkID == lost.chunkID)
        #expect(try store.itemsPending(for: retaken, afterLine: 0, limit: 10).map(\.line) == [3, 4])
        #expect(try store.resultsRecordIfLeasesHeld([], now: t0) == [])
    }

    static func expiredLeasesAreHandedBackAndRenewalsKeepThem(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(1)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2"]))
        let kept = try #require(try claim(store, "renewing", lease: 10))
        let lapsed = try #require(try claim(store, "silent", lease: 10))
        #expect(try store.chunksRenewLeases(owner: "renewing", now: t0.addingTimeInterval(8), leaseDuration: 10) == 1)
        #expect(try store.chunksReleaseExpired(now: t0.addingTimeInterval(5)) == 0)
        #expect(try store.chunksReleaseExpired(now: t0.addingTimeInterval(12)) == 1)
        #expect(try store.leaseStatus(kept) == .held)
        #expect(try store.leaseStatus(lapsed) == .lost)
        let retaken = try #require(try claim(store, "other", at: t0.addingTimeInterval(12)))
        #expect(retaken.firstLine == lapsed.firstLine)
    }

    static func releasedChunksComeBeforeNewOnes(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(1)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2", "3"]))
        let first = try #require(try claim(store, "d1"))
        try store.chunkReleaseIfLeaseHeld(first)
        #expect(try store.leaseStatus(first) == .lost)
        let again = try #require(try claim(store, "d2"))
        #expect(again.firstLine == 1, "handed-back work is claimed first, keeping input order")
        _ = try #require(try claim(store, "d2"))
        #expect(try store.chunksReleaseOwned(owner: "d2") == 2)
    }

    /// Claimable work: lines never claimed or chunks handed back, in an
    /// open or sealed job. An open job whose items are all held has none.
    static func claimableWorkIsUnclaimedLinesOrHandedBackChunks(_ make: Factory) throws {
        let store = try make()
        #expect(try store.jobsClaimableExist() == false)
        let job = try store.jobCreate(spec(chunkSize: .fixed(2)), now: t0)
        #expect(try store.jobsClaimableExist() == false, "an open job without items")
        #expect(try store.jobsRunnableExist())
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2"]))
        #expect(try store.jobsClaimableExist())
        let lease = try #require(try claim(store, "d1"))
        #expect(try store.jobsClaimableExist() == false, "every item is held")
        try store.chunkReleaseIfLeaseHeld(lease)
        #expect(try store.jobsClaimableExist(), "a chunk handed back")
        _ = try #require(try claim(store, "d1"))
        #expect(try store.jobsClaimableExist() == false)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 3, items: items(["3"]))
        #expect(try store.jobsClaimableExist(), "new items")
        #expect(try store.jobCancelIfRunnable(job.id, now: t0))
        #expect(try store.jobsClaimableExist() == false, "an ended job")
    }

    static func cancelStopsClaimsAndRecords(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(1)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2"]))
        let lease = try #require(try claim(store, "d1"))
        #expect(try store.jobCancelIfRunnable(job.id, now: t0))
        #expect(try store.jobCancelIfRunnable(job.id, now: t0) == false, "cancelling twice is a no-op")
        #expect(try store.leaseStatus(lease) == .jobEnded)
        #expect(try store.resultsRecordIfLeaseHeld(lease, results: [ItemRecord(1, ok("late"), 1)], completesChunk: true, now: t0) == .jobEnded)
        #expect(try claim(store, "d1") == nil)
        #expect(try store.jobFetch(job.id)?.state == .cancelled)
        #expect(try store.jobsRunnableExist() == false)
    }

    static func daemonRecords(_ make: Factory) throws {
        let store = try make()
        let record = DaemonRecord(id: "d1", host: "h", pid: 42, processStart: 7, workers: 3, startedAt: t0, heartbeatAt: t0, version: "9.9.9")
        try store.daemonRegister(record)
        #expect(try store.daemonsList() == [record])
        #expect(try store.daemonHeartbeat(id: "d1", now: t0.addingTimeInterval(1)))
        #expect(try store.daemonsList().first?.heartbeatAt == t0.addingTimeInterval(1))
        #expect(try store.daemonDeleteReleasingChunks(id: "d1") == 0)
        #expect(try store.daemonHeartbeat(id: "d1", now: t0) == false, "a removed daemon learns it must register again")
        #expect(try store.daemonsList().isEmpty)
    }

    // MARK: - Failure policies

    static func failed(_ text: String = "boom") -> ItemOutcome {
        ItemOutcome(status: .failed, exitStatus: 1, errorOutput: Data(text.utf8), startedAt: t0, finishedAt: t0)
    }

    static func haltNowEndsTheJobAndStopsOtherLeases(_ make: Factory) throws {
        let store = try make()
        var haltingSpec = spec(chunkSize: .fixed(1))
        haltingSpec.halt = HaltPolicy(when: .now, threshold: .count(2))
        let job = try store.jobCreate(haltingSpec, now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2", "3", "4"]))
        _ = try store.jobSealIfOpen(job.id, now: t0)
        let leases = try (0..<3).map { _ in try #require(try claim(store, "d1")) }
        #expect(try store.resultsRecordIfLeaseHeld(leases[0], results: [ItemRecord(1, failed(), 1)], completesChunk: true, now: t0) == .recorded)
        #expect(try store.resultsRecordIfLeaseHeld(leases[1], results: [ItemRecord(2, failed(), 1)], completesChunk: true, now: t0) == .recordedJobEnded)
        let halted = try #require(try store.jobFetch(job.id))
        #expect(halted.state == .failed)
        #expect(halted.haltReason?.contains("now,fail=2") == true)
        #expect(try store.leaseStatus(leases[2]) == .jobEnded, "with now, running items are stopped")
        #expect(try store.resultsRecordIfLeaseHeld(leases[2], results: [ItemRecord(3, ok("late"), 1)], completesChunk: true, now: t0) == .jobEnded)
        #expect(try claim(store, "d1") == nil)
    }

    static func haltReachedInsideAGroupCommitStopsTheBatchesAfterIt(_ make: Factory) throws {
        for when in [HaltPolicy.When.now, .soon] {
            let store = try make()
            var haltingSpec = spec(chunkSize: .fixed(2))
            haltingSpec.halt = HaltPolicy(when: when, threshold: .count(1))
            let job = try store.jobCreate(haltingSpec, now: t0)
            try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2", "3", "4"]))
            _ = try store.jobSealIfOpen(job.id, now: t0)
            let first = try #require(try claim(store, "d1"))
            let second = try #require(try claim(store, "d1"))
            let outcomes = try store.resultsRecordIfLeasesHeld([
                ResultBatch(lease: first, results: [ItemRecord(1, ok("1"), 1)], completesChunk: false),
                ResultBatch(lease: second, results: [ItemRecord(3, failed(), 1)], completesChunk: false),
                ResultBatch(lease: first, results: [ItemRecord(2, ok("2"), 1)], completesChunk: true),
            ], now: t0)
            let halted = try #require(try store.jobFetch(job.id))
            #expect(halted.state == .failed)
            #expect(halted.finishedAt != nil)
            if when == .now {
                #expect(outcomes == [.recorded, .recordedJobEnded, .jobEnded], "with now, nothing records after the halt")
                #expect(halted.finishedCount == 2)
            } else {
                #expect(outcomes == [.recorded, .recordedJobEnded, .recordedJobEnded], "with soon, running items still record")
                #expect(halted.finishedCount == 3)
            }
            #expect(try store.resultsBySequence(job: job.id, afterSequence: 0, limit: 10).map(\.sequence)
                == Array(1...halted.finishedCount))
        }
    }

    static func haltSoonLetsRunningItemsRecord(_ make: Factory) throws {
        let store = try make()
        var haltingSpec = spec(chunkSize: .fixed(1))
        haltingSpec.halt = HaltPolicy(when: .soon, threshold: .percent(50))
        let job = try store.jobCreate(haltingSpec, now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2", "3", "4", "5"]))
        _ = try store.jobSealIfOpen(job.id, now: t0)
        let leases = try (0..<4).map { _ in try #require(try claim(store, "d1")) }
        #expect(try store.resultsRecordIfLeaseHeld(leases[0], results: [ItemRecord(1, failed(), 1)], completesChunk: true, now: t0) == .recorded,
                "a percentage counts only once three items finished")
        #expect(try store.resultsRecordIfLeaseHeld(leases[1], results: [ItemRecord(2, ok("2"), 1)], completesChunk: true, now: t0) == .recorded)
        #expect(try store.resultsRecordIfLeaseHeld(leases[2], results: [ItemRecord(3, failed(), 1)], completesChunk: true, now: t0) == .recordedJobEnded)
        #expect(try store.jobFetch(job.id)?.state == .failed)
        #expect(try store.leaseStatus(leases[3]) == .draining)
        #expect(try store.resultsRecordIfLeaseHeld(leases[3], results: [ItemRecord(4, ok("4"), 1)], completesChunk: true, now: t0) == .recordedJobEnded)
        #expect(try claim(store, "d1") == nil, "nothing new starts")
        #expect(try store.resultsByLine(job: job.id, afterLine: 0, limit: 10).map(\.line) == [1, 2, 3, 4])
    }

    /// Completion order when two leases' batches of one job interleave in
    /// one group commit, the results of two jobs share it, and a reader
    /// pages through it from any sequence (a run of consecutive lines is
    /// stored once on SQLite; every page must still start and end exactly).
    static func completionOrderOfInterleavedBatchesPagesExactly(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(3)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2", "3", "4", "5", "6", "7"]))
        _ = try store.jobSealIfOpen(job.id, now: t0)
        let other = try store.jobCreate(spec(chunkSize: .fixed(2)), now: t0)
        try store.itemsAppendIfOpen(job: other.id, firstLine: 1, items: items(["x", "y"]))
        _ = try store.jobSealIfOpen(other.id, now: t0)
        var leases: [JobID: [ChunkLease]] = [:]
        while let lease = try claim(store, "d1") { leases[lease.job.id, default: []].append(lease) }
        let (a, b, c) = try (#require(leases[job.id]?[0]), #require(leases[job.id]?[1]), #require(leases[job.id]?[2]))
        let x = try #require(leases[other.id]?.first)
        #expect(try store.resultsRecordIfLeasesHeld([
            ResultBatch(lease: a, results: [ItemRecord(1, ok("1"), 1), ItemRecord(2, ok("2"), 1)], completesChunk: false),
            ResultBatch(lease: x, results: [ItemRecord(1, ok("x"), 1)], completesChunk: false),
            ResultBatch(lease: b, results: [ItemRecord(4, ok("4"), 1)], completesChunk: false),
            ResultBatch(lease: a, results: [ItemRecord(3, failed(), 1)], completesChunk: true),
            ResultBatch(lease: b, results: [ItemRecord(5, ok("5", at: t0.addingTimeInterval(5)), 1)], completesChunk: false),
            ResultBatch(lease: x, results: [ItemRecord(2, ok("y"), 1)], completesChunk: true),
        ], now: t0) == [.recorded, .recorded, .recorded, .recorded, .recorded, .recorded])
        #expect(try store.resultsRecordIfLeasesHeld([
            ResultBatch(lease: b, results: [ItemRecord(6, ok("6"), 1)], completesChunk: true),
            ResultBatch(lease: c, results: [ItemRecord(7, ok("7"), 1)], completesChunk: true),
        ], now: t0) == [.recorded, .recorded])
        let all = try store.resultsBySequence(job: job.id, afterSequence: 0, limit: 100)
        #expect(all.map(\.line) == [1, 2, 4, 3, 5, 6, 7])
        #expect(all.map(\.sequence) == Array(1...7))
        for after in Int64(0)...7 {
            for limit in 1...3 {
                let page = try store.resultsBySequence(job: job.id, afterSequence: after, limit: limit)
                #expect(page.map(\.sequence) == Array(all.map(\.sequence).filter { $0 > after }.prefix(limit)), "after \(after), \(limit) at most")
            }
        }
        #expect(try store.resultsBySequence(job: other.id, afterSequence: 0, limit: 10).map(\.line) == [1, 2])
        let times = try store.resultsFinishTimes(job: job.id, sequences: [2, 5, 8])
        #expect(times == [2: t0, 5: t0.addingTimeInterval(5)], "sequence 5 is line 5; there is no sequence 8")
        #expect(try store.resultsRecentDurations(job: job.id, limit: 3).count == 3)
        #expect(try store.resultsCount(job: job.id, finishedSince: t0.addingTimeInterval(1)) == 1)
    }

    static func retryResetsOnlyFailedItems(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(4)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2", "3", "4"]))
        _ = try store.jobSealIfOpen(job.id, now: t0)
        let lease = try #require(try claim(store, "d1"))
        let running = #expect(throws: StoreError.self) { _ = try store.jobRetryIfEnded(job.id, lines: nil, now: t0) }
        #expect(running?.code == .jobState)
        _ = try store.resultsRecordIfLeaseHeld(
            lease, results: [ItemRecord(1, ok("1"), 1), ItemRecord(2, failed(), 1), ItemRecord(3, ok("3"), 1), ItemRecord(4, failed(), 2)], completesChunk: true, now: t0)
        #expect(try store.jobFetch(job.id)?.state == .complete)
        #expect(try store.jobRetryIfEnded(job.id, lines: [1, 2], now: t0) == 1, "line 1 succeeded: never reset")
        let again = try #require(try store.jobFetch(job.id))
        #expect(again.state == .sealed)
        #expect(again.failedCount == 1)
        let retried = try #require(try claim(store, "d2"))
        #expect((retried.firstLine, retried.lastLine) == (2, 2))
        #expect(try store.resultsRecordIfLeaseHeld(retried, results: [ItemRecord(2, ok("2 again"), 2)], completesChunk: true, now: t0) == .recorded)
        #expect(try store.jobFetch(job.id)?.state == .complete, "line 4 still failed: finished, with one failure")
        #expect(try store.jobRetryIfEnded(job.id, lines: nil, now: t0) == 1)
        let last = try #require(try claim(store, "d2"))
        _ = try store.resultsRecordIfLeaseHeld(last, results: [ItemRecord(4, ok("4 again"), 3)], completesChunk: true, now: t0)
        let done = try #require(try store.jobFetch(job.id))
        #expect(done.state == .complete)
        #expect(done.failedCount == 0)
        let stream = try store.resultsBySequence(job: job.id, afterSequence: 0, limit: 10)
        #expect(stream.map(\.line) == [1, 3, 2, 4], "retried results come after, with new sequence numbers")
        #expect(Set(stream.map(\.sequence)).count == 4)
        let nothing = #expect(throws: StoreError.self) { _ = try store.jobRetryIfEnded(job.id, lines: nil, now: t0) }
        #expect(nothing?.code == .jobState)
    }

    static func retryResumesACancelledJob(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(2)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2", "3"]))
        _ = try store.jobSealIfOpen(job.id, now: t0)
        let stale = try #require(try claim(store, "d1"))
        #expect(try store.jobCancelIfRunnable(job.id, now: t0))
        #expect(try store.jobRetryIfEnded(job.id, lines: nil, now: t0) == 0)
        #expect(try store.leaseStatus(stale) == .lost, "a holder from before the cancel is fenced out")
        var lines: [Int64] = []
        while let lease = try claim(store, "d2") {
            for item in try store.itemsPending(for: lease, afterLine: 0, limit: 10) {
                lines.append(item.line)
                _ = try store.resultsRecordIfLeaseHeld(lease, results: [ItemRecord(item.line, ok("x"), 1)], completesChunk: item.line == lease.lastLine, now: t0)
            }
        }
        #expect(lines == [1, 2, 3])
        #expect(try store.jobFetch(job.id)?.state == .complete)
    }

    static func medianDurationOfSuccesses(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(5)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["1", "2", "3", "4", "5"]))
        #expect(try store.resultsMedianDuration(job: job.id) == nil)
        let lease = try #require(try claim(store, "d1"))
        func run(_ seconds: Double, _ status: ItemOutcome.Status) -> ItemOutcome {
            ItemOutcome(status: status, startedAt: t0, finishedAt: t0.addingTimeInterval(seconds))
        }
        _ = try store.resultsRecordIfLeaseHeld(
            lease, results: [ItemRecord(1, run(1, .succeeded), 1), ItemRecord(2, run(9, .succeeded), 1), ItemRecord(3, run(100, .failed), 1), ItemRecord(4, run(2, .succeeded), 1)],
            completesChunk: false, now: t0)
        #expect(try store.resultsMedianDuration(job: job.id) == 2, "failures do not count")
        #expect(try store.resultsRecentDurations(job: job.id, limit: 10) == [2, 9, 1], "successes, newest first")
        #expect(try store.resultsRecentDurations(job: job.id, limit: 2) == [2, 9])
    }

    // MARK: - Issue 10

    /// `-j`: a job at its limit of leased chunks is skipped by claims (other
    /// jobs are not), and each lease gets the smallest free job slot.
    static func runningLimitGuardsClaimsAndSlotsAreFree(_ make: Factory) throws {
        let store = try make()
        var limited = spec(chunkSize: .fixed(1))
        limited.maxRunning = .count(2)
        let job = try store.jobCreate(limited, now: t0)
        #expect(try store.jobFetch(job.id)?.spec.maxRunning == .count(2))
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["a", "b", "c", "d"]))
        let first = try #require(try claim(store, "d1"))
        let second = try #require(try claim(store, "d2"))
        #expect(first.slot == 1 && second.slot == 2)
        #expect(try claim(store, "d3") == nil, "two of the job's chunks are leased: its limit")
        let other = try store.jobCreate(spec(chunkSize: .fixed(1)), now: t0)
        try store.itemsAppendIfOpen(job: other.id, firstLine: 1, items: items(["x"]))
        #expect(try claim(store, "d3")?.job.id == other.id, "another job's work is still claimed")
        try store.chunkReleaseIfLeaseHeld(first)
        let third = try #require(try claim(store, "d3"))
        #expect(third.job.id == job.id)
        #expect(third.slot == 1, "the slot the released chunk freed")
        // A percentage of the registered workers (at least one).
        var share = spec(chunkSize: .fixed(1))
        share.maxRunning = .percentOfWorkers(50)
        let shared = try store.jobCreate(share, now: t0)
        #expect(try store.jobFetch(shared.id)?.spec.maxRunning == .percentOfWorkers(50))
    }

    /// Group results keep their range; `retry` replaces the policy.
    static func groupResultsAndPolicyChanges(_ make: Factory) throws {
        let store = try make()
        var grouped = spec(chunkSize: .fixed(3))
        grouped.grouping = .items(3)
        grouped.itemToken = Array("XX".utf8)
        grouped.columnSeparator = ","
        grouped.halt = HaltPolicy(parsing: "now,fail=1")
        let job = try store.jobCreate(grouped, now: t0)
        let fetched = try #require(try store.jobFetch(job.id))
        #expect(fetched.spec.grouping == .items(3) && fetched.spec.itemToken == Array("XX".utf8) && fetched.spec.columnSeparator == ",")
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["a", "b", "c", "d"]))
        _ = try store.jobSealIfOpen(job.id, now: t0)
        let lease = try #require(try claim(store, "d1"))
        let failed = ItemOutcome(status: .failed, exitStatus: 1, startedAt: t0, finishedAt: t0, group: 1...3)
        let results = (1...3).map { ItemRecord(line: Int64($0), outcome: failed, attempts: 1) }
        _ = try store.resultsRecordIfLeaseHeld(lease, results: results, completesChunk: true, now: t0)
        #expect(try store.jobFetch(job.id)?.state == .failed)
        #expect(try store.resultsByLine(job: job.id, afterLine: 0, limit: 10).map(\.outcome.group) == [1...3, 1...3, 1...3])
        #expect(try store.itemsFetch(job: job.id, lines: [3, 1]) == [1: Data("a".utf8), 3: Data("c".utf8)])
        // Retrying line 2 brings its group; the new policy replaces the halt.
        let reset = try store.jobRetryIfEnded(job.id, lines: [2], policy: JobPolicyChange(retries: 2, halt: .some(nil)), now: t0)
        #expect(reset == 3)
        let after = try #require(try store.jobFetch(job.id))
        #expect(after.spec.halt == nil && after.spec.retries == 2)
        #expect(after.state == .sealed)
        #expect(try claim(store, "d1").map { $0.firstLine...$0.lastLine } == 1...3, "the group's lines run again together")
    }

    // MARK: - The rest of the protocol (issue 12)

    /// Listing by state, counting, failures, deletion and compaction: the
    /// operations the suite did not call before.
    static func listsCountsAndDeletes(_ make: Factory) throws {
        let store = try make()
        let done = try store.jobCreate(spec(chunkSize: .fixed(3)), now: t0)
        try store.itemsAppendIfOpen(job: done.id, firstLine: 1, items: items(["a", "b", "c"]))
        _ = try store.jobSealIfOpen(done.id, now: t0)
        let running = try store.jobCreate(spec(), now: t0)
        try store.itemsAppendIfOpen(job: running.id, firstLine: 1, items: items(["x"]))
        let lease = try #require(try claim(store, "d1"))
        #expect(lease.job.id == done.id)
        #expect(try store.chunksLeasedExist(job: done.id))
        #expect(try store.chunksLeasedList().map { [$0.job.rawValue, $0.firstLine, $0.lastLine] } == [[done.id.rawValue, 1, 3]])
        #expect(try store.itemCounts(job: done.id).claimed == 3)
        let later = t0.addingTimeInterval(10)
        _ = try store.resultsRecordIfLeaseHeld(
            lease, results: [ItemRecord(1, ok("1"), 1), ItemRecord(2, failed(), 2), ItemRecord(3, ok("3", at: later), 1)], completesChunk: true, now: later)
        #expect(try !store.chunksLeasedExist(job: done.id))
        let counts = try store.itemCounts(job: done.id)
        #expect(counts.claimed == 0 && counts.attempts == 4 && counts.retried == 1)
        #expect(try store.resultsCount(job: done.id, finishedSince: t0.addingTimeInterval(5)) == 1)
        #expect(try store.resultsFailed(job: done.id, limit: 10).map(\.line) == [2])
        #expect(try store.jobsList(limit: 10, states: [.complete]).map(\.id) == [done.id])
        #expect(try store.jobsList(limit: 10, states: [.open, .sealed]).map(\.id) == [running.id])
        // Deleting: a running job only with force; ended ones by age.
        #expect(throws: StoreError.self) { try store.jobDelete(running.id, force: false) }
        #expect(try store.jobsDeleteEnded(before: t0) == [])
        #expect(try store.jobsDeleteEnded(before: later.addingTimeInterval(1)) == [done.id])
        #expect(try store.jobFetch(done.id) == nil)
        try store.jobDelete(running.id, force: true)
        #expect(try store.jobsList(limit: 10).isEmpty)
        #expect(try store.storageCompact())
    }

    /// Two store instances on one database claim at once, many times: no
    /// line is ever in two leases.
    static func concurrentClaimsNeverOverlap(_ make: Factory) throws {
        let first = try make()
        let second = try reopen(first)
        let job = try first.jobCreate(spec(chunkSize: .fixed(3)), now: t0)
        try first.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items((1...600).map(String.init)))
        let claimed = Mutex<[ClosedRange<Int64>]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let store = index == 0 ? first : second
            while let lease = try? claim(store, "d\(index)") {
                claimed.withLock { $0.append(lease.firstLine...lease.lastLine) }
            }
        }
        let lines = claimed.withLock { $0 }.flatMap { Array($0) }.sorted()
        #expect(lines == Array(1...600), "every line in exactly one lease")
    }

    /// Two committers (two store instances) recording one job's results at
    /// once give completion sequences exactly 1...n.
    static func concurrentCommittersGiveGaplessSequences(_ make: Factory) throws {
        let first = try make()
        let second = try reopen(first)
        let job = try first.jobCreate(spec(chunkSize: .fixed(50)), now: t0)
        try first.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items((1...200).map(String.init)))
        _ = try first.jobSealIfOpen(job.id, now: t0)
        let leases = try (0..<4).map { index in try #require(try claim(index % 2 == 0 ? first : second, "d\(index)")) }
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            let store = index % 2 == 0 ? first : second
            let lease = leases[index]
            for line in lease.firstLine...lease.lastLine {
                _ = try? store.resultsRecordIfLeaseHeld(lease, results: [ItemRecord(line, ok("\(line)"), 1)], completesChunk: line == lease.lastLine, now: t0)
            }
        }
        let sequences = try first.resultsBySequence(job: job.id, afterSequence: 0, limit: 1000).map(\.sequence)
        #expect(sequences == Array(1...200))
        #expect(try first.jobFetch(job.id)?.state == .complete)
    }

    /// A stale writer racing the re-grant of its chunk gets "lease lost",
    /// never a constraint error, and records nothing.
    static func staleWriterRacingARegrantGetsLeaseLost(_ make: Factory) throws {
        let store = try make()
        let job = try store.jobCreate(spec(chunkSize: .fixed(2)), now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["a", "b"]))
        let stale = try #require(try claim(store, "old"))
        try store.chunkReleaseIfLeaseHeld(stale)
        let fresh = try #require(try claim(store, "new"))
        #expect(fresh.fence > stale.fence)
        #expect(try store.resultsRecordIfLeaseHeld(fresh, results: [ItemRecord(1, ok("new"), 1)], completesChunk: false, now: t0) == .recorded)
        // The stale writer records the same line: fenced off, not a duplicate-key error.
        #expect(try store.resultsRecordIfLeaseHeld(stale, results: [ItemRecord(1, ok("old"), 1), ItemRecord(2, ok("old"), 1)], completesChunk: true, now: t0) == .leaseLost)
        #expect(try store.resultsByLine(job: job.id, afterLine: 0, limit: 10).map(\.outcome.output) == [Data("new".utf8)])
    }

    /// A waiting follower's change feed: a wait ends when another store
    /// instance commits, and at its timeout when nobody does.
    static func waitingForAChangeEndsAtACommit(_ make: Factory) throws {
        let store = try make()
        let other = try reopen(store)
        let job = try store.jobCreate(spec(), now: t0)
        let idle = try #require(store.storageVersion())
        let quiet = Date()
        store.storageWaitForChange(from: idle, timeout: 0.3)
        #expect(Date().timeIntervalSince(quiet) >= 0.25, "nothing was committed: the wait lasts its timeout")
        let version = try #require(store.storageVersion())
        let appendFailure = Mutex<String?>(nil)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) {
            do {
                try other.itemsAppendIfOpen(job: job.id, firstLine: 1, items: items(["x"]))
            } catch {
                appendFailure.withLock { $0 = "\(error)" }
            }
        }
        let started = Date()
        store.storageWaitForChange(from: version, timeout: 20)
        #expect(Date().timeIntervalSince(started) < 10, "the commit ended the wait (append: \(appendFailure.withLock { $0 } ?? "done"))")
        #expect(store.storageVersion() != version)
    }
}
