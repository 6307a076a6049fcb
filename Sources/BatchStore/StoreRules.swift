import Foundation

/// The rules every backend applies inside its own transactions, so that a
/// second backend follows them rather than copies SQLite's internals: the
/// lease rule, what a job becomes as results are recorded (completion and
/// `--halt`), how `retry` cuts reset lines into chunks, and the size of a
/// claim. (Who gets the next worker is `FairShare`.)
public enum StoreRules {
    /// Whether a lease may record, given its chunk and job now.
    public static func leaseStatus(of lease: ChunkLease, chunkHeld: Bool, jobState: JobState) -> LeaseStatus {
        if jobState.isRunnable {
            return chunkHeld ? .held : .lost
        } else if jobState == .failed && lease.job.spec.halt?.when == .soon && chunkHeld {
            return .draining
        } else {
            return .jobEnded
        }
    }

    /// A job's state after results were recorded for it.
    public struct Progress: Sendable, Hashable {
        public var state: JobState
        /// Why it halted, when its halt policy was reached now.
        public var haltReason: String?
        /// Halted with `now`: its chunks are released at once.
        public var haltsNow: Bool
    }

    /// What a job in `state`, with `finished` and `failed` results of
    /// `itemCount` items (counting the batch just recorded, which held
    /// `failedNow` failures), becomes: complete once sealed and every item
    /// has a result; failed (halted) once its halt policy is reached by a
    /// failure.
    public static func progress(
        state: JobState, itemCount: Int64, finished: Int64, failed: Int64, failedNow: Int64, halt: HaltPolicy?
    ) -> Progress {
        if state == .sealed && finished == itemCount {
            return Progress(state: .complete, haltReason: nil, haltsNow: false)
        }
        if state.isRunnable, failedNow > 0, let halt, halt.isReached(failed: failed, finished: finished) {
            return Progress(
                state: .failed, haltReason: "halted by --halt \(halt): \(failed) of \(finished) finished items failed",
                haltsNow: halt.when == .now)
        }
        return Progress(state: state, haltReason: nil, haltsNow: false)
    }

    /// Reset lines (sorted) cut into chunks: runs of consecutive lines, at
    /// most `longest` each.
    public static func retryChunks(_ lines: [Int64], longest: Int64 = 1000) -> [ClosedRange<Int64>] {
        var chunks: [ClosedRange<Int64>] = []
        var index = 0
        while index < lines.count {
            var end = index
            while end + 1 < lines.count, lines[end + 1] == lines[end] + 1, Int64(end - index) < longest - 1 { end += 1 }
            chunks.append(lines[index]...lines[end])
            index = end + 1
        }
        return chunks
    }

    /// How many lines a claim of `job` takes, given the size its claimer
    /// proposes: a rate-limited job one item (or one group) at a time, so
    /// its items start spread out rather than in bursts of a chunk.
    public static func claimSize(of job: Job, proposed: Int) -> Int {
        if job.spec.rate != nil { return job.spec.grouping?.chunkUnit ?? 1 }
        return max(1, proposed)
    }
}
