import BatchStore
import Foundation
import Testing

/// The backend-independent rules (issue 12): every backend applies these
/// inside its transactions.
@Suite struct StoreRulesTests {
    @Test func completionAndHalting() {
        let halt = HaltPolicy(parsing: "now,fail=2")
        // Sealed and every item finished: complete, whatever failed.
        #expect(StoreRules.progress(state: .sealed, itemCount: 3, finished: 3, failed: 2, failedNow: 1, halt: halt).state == .complete)
        // An open job is never complete: more items may come.
        #expect(StoreRules.progress(state: .open, itemCount: 3, finished: 3, failed: 0, failedNow: 0, halt: nil).state == .open)
        let halted = StoreRules.progress(state: .sealed, itemCount: 10, finished: 4, failed: 2, failedNow: 1, halt: halt)
        #expect(halted.state == .failed && halted.haltsNow)
        #expect(halted.haltReason == "halted by --halt now,fail=2: 2 of 4 finished items failed")
        // Only a failure recorded now halts (a success after the threshold does not re-halt).
        #expect(StoreRules.progress(state: .sealed, itemCount: 10, finished: 5, failed: 2, failedNow: 0, halt: halt).state == .sealed)
    }

    @Test func retryChunksAreRunsOfConsecutiveLines() {
        #expect(StoreRules.retryChunks([1, 2, 3, 7, 9, 10]) == [1...3, 7...7, 9...10])
        #expect(StoreRules.retryChunks(Array(1...2500)) == [1...1000, 1001...2000, 2001...2500])
        #expect(StoreRules.retryChunks([]) == [])
    }

    @Test func theLeaseRule() {
        let job = Job(
            id: JobID(1), spec: JobSpec(command: ["x"], workingDirectory: "/", environment: [], halt: HaltPolicy(parsing: "soon,fail=1")),
            state: .sealed, itemCount: 1, finishedCount: 0, failedCount: 0, createdAt: Date(), sealedAt: nil, finishedAt: nil)
        let lease = ChunkLease(chunkID: 1, job: job, firstLine: 1, lastLine: 1, fence: 1, owner: "d")
        #expect(StoreRules.leaseStatus(of: lease, chunkHeld: true, jobState: .sealed) == .held)
        #expect(StoreRules.leaseStatus(of: lease, chunkHeld: false, jobState: .sealed) == .lost)
        #expect(StoreRules.leaseStatus(of: lease, chunkHeld: true, jobState: .failed) == .draining)
        #expect(StoreRules.leaseStatus(of: lease, chunkHeld: true, jobState: .cancelled) == .jobEnded)
    }
}
