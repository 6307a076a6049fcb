import BatchStore
import Foundation
import Testing

/// The follower in input order (`ResultStream`), against a real store file.
@Suite struct ResultStreamTests {
    let directory = TemporaryDirectory()

    /// Lines after a gap (an item still running while later chunks finish)
    /// are held back and delivered once, in order, when the gap fills; and
    /// while the gap stays, a look does not read the held-back results again
    /// (it did: each commit of a later chunk re-read every result past the gap).
    @Test func linesAfterAGapAreHeldBackAndNotReadAgain() async throws {
        let store = FaultInjectingStore(try SQLiteStore(path: directory.file("follow.db")))
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        let spec = JobSpec(command: ["echo"], workingDirectory: "/", environment: [], chunkSize: .fixed(10))
        let job = try store.jobCreate(spec, now: t0)
        try store.itemsAppendIfOpen(job: job.id, firstLine: 1, items: (1...30).map { Data(String($0).utf8) })
        _ = try store.jobSealIfOpen(job.id, now: t0)
        let leases = try (0..<3).map { _ in
            try #require(try store.chunkClaim(owner: "d1", now: t0, leaseDuration: 60) { _, _ in 10 })
        }
        func record(_ lease: ChunkLease, _ line: Int64) throws {
            let outcome = ItemOutcome(status: .succeeded, exitStatus: 0, output: Data("r\(line)".utf8), startedAt: t0, finishedAt: t0)
            let recorded = try store.resultsRecordIfLeaseHeld(
                lease, results: [ItemRecord(line, outcome, 1)], completesChunk: line == lease.lastLine, now: t0)
            #expect(recorded == .recorded)
        }
        let follower = Task {
            var stream = ResultStream(store: store, job: job.id, order: .input)
            var lines: [Int64] = []
            while let page = try await stream.next() { lines += page.map(\.line) }
            return lines
        }
        /// Waits until the follower has looked again since `calls` looks.
        func lookedAgain(after calls: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while store.lineReads.withLock({ $0.calls }) <= calls {
                guard ContinuousClock.now < deadline else { Issue.record("the follower did not look again"); return }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        try await lookedAgain(after: 0)
        // Lines 11-30 finish one commit at a time while line 1 is still running.
        for lease in leases[1...] {
            for line in lease.firstLine...lease.lastLine {
                let calls = store.lineReads.withLock { $0.calls }
                try record(lease, line)
                try await lookedAgain(after: calls)
            }
        }
        for line in leases[0].firstLine...leases[0].lastLine { try record(leases[0], line) }
        let delivered = try await follower.value
        #expect(delivered == Array(1...30))
        // Each result read in a page at most twice (once past the gap, once
        // delivered); re-reading the held-back ones at each of the 20 looks
        // read 510 rows before the gap filled.
        let pageRows = store.lineReads.withLock { $0.pageRows }
        #expect(pageRows <= 60, "\(pageRows) rows read in pages for 30 results")
    }
}
