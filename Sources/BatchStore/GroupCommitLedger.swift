/// What recording under a lease needs to know of its chunk and job, as a
/// backend reads it in one small query.
public struct LeaseState: Sendable {
    /// The chunk is leased, under this lease's fence and owner.
    public var chunkHeld: Bool
    public var jobState: JobState
    public var itemCount: Int64
    public var finishedCount: Int64
    public var failedCount: Int64
    public var nextSequence: Int64

    public init(chunkHeld: Bool, jobState: JobState, itemCount: Int64, finishedCount: Int64, failedCount: Int64, nextSequence: Int64) {
        self.chunkHeld = chunkHeld
        self.jobState = jobState
        self.itemCount = itemCount
        self.finishedCount = finishedCount
        self.failedCount = failedCount
        self.nextSequence = nextSequence
    }
}

/// The bookkeeping of one group commit, the same in every backend: each
/// distinct lease and job is read once per transaction however many batches
/// it has, each batch is recorded only under a held lease (`StoreRules`),
/// completion sequences are handed out in order, and each job's counts,
/// state and halt reason are kept in memory, for the backend to write once
/// at the end (`jobs`). The backend supplies the reads and writes, inside
/// its transaction.
public struct GroupCommitLedger {
    /// A job as the group commit sees it.
    public struct JobTally: Sendable {
        public var state: JobState
        /// Its state when the commit began: the job's end is stamped only when it changed.
        public let initialState: JobState
        let itemCount: Int64
        public var finished: Int64
        public var failed: Int64
        public var nextSequence: Int64
        public var haltReason: String?
        /// It halted with `now`: no chunk of it may stay held.
        public var haltedNow = false

        init(_ current: LeaseState) {
            state = current.jobState
            initialState = current.jobState
            itemCount = current.itemCount
            finished = current.finishedCount
            failed = current.failedCount
            nextSequence = current.nextSequence
        }
    }

    private struct LeaseKey: Hashable {
        var job: JobID
        var chunkID: Int64
        var fence: Int64
    }

    private var tallies: [JobID: JobTally] = [:]
    private var held: [LeaseKey: Bool] = [:]

    public init() {}

    /// The jobs the commit touched, in id order, with what to write back.
    public var jobs: [(id: JobID, tally: JobTally)] {
        tallies.sorted { $0.key.rawValue < $1.key.rawValue }.map { (id: $0.key, tally: $0.value) }
    }

    /// Records one batch: `leaseState` reads its lease and job (once per
    /// lease), `insert` writes its results from the given first sequence,
    /// `completeChunk` marks its chunk done.
    public mutating func record(
        _ batch: ResultBatch,
        leaseState: (ChunkLease) throws -> LeaseState?,
        insert: (_ results: [ItemRecord], _ firstSequence: Int64) throws -> Void,
        completeChunk: (ChunkLease) throws -> Void
    ) throws -> RecordOutcome {
        let lease = batch.lease
        let key = LeaseKey(job: lease.job.id, chunkID: lease.chunkID, fence: lease.fence)
        if held[key] == nil || tallies[lease.job.id] == nil {
            guard let current = try leaseState(lease) else { return .jobEnded }
            held[key] = current.chunkHeld
            if tallies[lease.job.id] == nil { tallies[lease.job.id] = JobTally(current) }
        }
        guard var job = tallies[lease.job.id], let chunkHeld = held[key] else { return .jobEnded }
        switch StoreRules.leaseStatus(of: lease, chunkHeld: chunkHeld, jobState: job.state) {
        case .lost: return .leaseLost
        case .jobEnded: return .jobEnded
        case .held, .draining: break
        }
        var failed: Int64 = 0
        for result in batch.results {
            precondition(result.line >= lease.firstLine && result.line <= lease.lastLine, "result outside its lease")
            if result.outcome.status == .failed { failed += 1 }
        }
        try insert(batch.results, job.nextSequence)
        let count = Int64(batch.results.count)
        job.nextSequence += count
        job.finished += count
        job.failed += failed
        let progress = StoreRules.progress(
            state: job.state, itemCount: job.itemCount, finished: job.finished, failed: job.failed,
            failedNow: failed, halt: lease.job.spec.halt)
        job.state = progress.state
        if let reason = progress.haltReason {
            job.haltReason = reason
            job.haltedNow = progress.haltsNow
        }
        if batch.completesChunk {
            try completeChunk(lease)
            held[key] = false
        }
        tallies[lease.job.id] = job
        return job.state == .failed ? .recordedJobEnded : .recorded
    }
}
