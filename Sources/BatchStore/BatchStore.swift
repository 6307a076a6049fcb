import Foundation

/// The one storage seam of batch: every backend (SQLite now, PostgreSQL later)
/// implements it and must pass the conformance suite in `Tests`.
///
/// Operations are named noun-verb with their guard in the name where they have
/// one; the guard is the contract. Each one is a single atomic write or a
/// consistent read, safe to call from several processes on one store. `now`
/// is always passed in so tests control the clock.
///
/// What "recorded" means is the backend's to document (for SQLite: see
/// `SQLiteStore`), but in every backend a result, once `resultsRecordIfLeasesHeld`
/// returned `.recorded` for it, is never lost by a crash of any batch process, and an
/// item never has more than one result.
public protocol BatchStore: Sendable {
    /// Where the store lives (for messages, and for a daemon started on it).
    var location: StoreLocation { get }

    /// Who owns jobs stored before owners were recorded (for SQLite, the
    /// owner of the database file): only that user's daemon runs them.
    var legacyOwner: UInt32 { get }

    /// The store's clock now: what the worker writes leases, heartbeats and
    /// result times with (`now:` of the calls below), so that daemons on
    /// several hosts write them on one clock. A local file's clock is this
    /// host's; a test passes its own `now:` instead.
    func storageClock() throws -> Date

    /// Closes the store's connections (and releases what they hold, such as
    /// file locks); nothing may use the store afterwards.
    func close() throws

    // MARK: - Jobs

    /// Creates an open job with no items, owned by the calling process's
    /// user, with the calling process as its submitter.
    func jobCreate(_ spec: JobSpec, now: Date) throws -> Job

    /// Records the process that stores the rest of an open job's input
    /// (`submit --resume`); `jobCreate` records the creating process. Throws
    /// `.jobState` when the job is not open.
    func jobSubmitterRecordIfOpen(_ id: JobID, _ submitter: ProcessIdentity) throws

    /// Records what a daemon warns about a job, for `status` (the last
    /// warning replaces the one before).
    func jobWarningRecord(_ id: JobID, _ warning: String, now: Date) throws

    /// The job, or `nil` when there is no such job.
    func jobFetch(_ id: JobID) throws -> Job?

    /// Jobs, newest first; with `states`, only jobs in one of them; with
    /// `before`, only jobs older than that one (the next page, on the
    /// primary key: as cheap at the thousandth page as at the first).
    func jobsList(limit: Int, states: Set<JobState>?, before: JobID?) throws -> [Job]

    /// Whether any job is open or sealed (there is, or may come, work).
    func jobsRunnableExist() throws -> Bool

    /// Whether any open or sealed job has work no one holds: lines never
    /// claimed, or chunks handed back. When none has, only a change (items
    /// appended, a chunk handed back, a job submitted) makes work, and an
    /// idle worker may wait for one instead of polling.
    func jobsClaimableExist() throws -> Bool

    /// Appends items to an open job. `firstLine` must be one past the job's
    /// last stored line, so a second submitter racing the first fails with
    /// `.itemOrder` instead of interleaving. Atomic: all items or none.
    /// Items become claimable as soon as this returns.
    func itemsAppendIfOpen(job: JobID, firstLine: Int64, items: [Data]) throws

    /// One stored item's bytes, or `nil` when the line is not stored.
    func itemFetch(job: JobID, line: Int64) throws -> Data?

    /// The stored bytes of the listed lines (at most a few thousand at a
    /// time): what exports and `--tag` print beside each result.
    func itemsFetch(job: JobID, lines: [Int64]) throws -> [Int64: Data]

    /// Marks the input complete. A job whose every item already has a result
    /// completes at once. Returns the job as it is afterwards; sealing a job
    /// that is not open throws `.jobState`.
    func jobSealIfOpen(_ id: JobID, now: Date) throws -> Job

    /// Cancels a job that is open or sealed. Returns `false` when the job had
    /// already ended. Workers notice within their poll interval, kill what they
    /// run and record nothing more for it.
    func jobCancelIfRunnable(_ id: JobID, now: Date) throws -> Bool

    /// Puts a finished job's failed items (or, with `lines`, those of the
    /// listed lines that failed) back to pending, and the job back to running:
    /// sealed, or open if its input never completed. Items that succeeded are
    /// never reset; items that never ran (a cancelled or halted job) run too.
    /// Returns how many failed results were removed. Throws `.jobState` when
    /// the job is still running or there is nothing to run again.
    /// With a `policy`, the job's retries, halt policy and timeout are
    /// replaced in the same transaction, before anything runs again.
    func jobRetryIfEnded(_ id: JobID, lines: [Int64]?, policy: JobPolicyChange, now: Date) throws -> Int

    /// Changes the priority of a job that is open or sealed (`batch
    /// priority`): the next claims follow it. Throws `.jobState` for a job
    /// that ended.
    func jobPrioritySetIfRunnable(_ id: JobID, priority: Int) throws

    /// Every runnable job as `FairShare` sees it (all owners): for `status`
    /// and `list` to say what each job gets and why it waits.
    func jobsSchedulingCandidates() throws -> [FairShare.Candidate]

    /// Deletes an ended job with its items, chunks and results. A running job
    /// (open or sealed) is refused with `.jobState`, unless `force`, which
    /// deletes it all the same (its daemons stop when they find it gone).
    func jobDelete(_ id: JobID, force: Bool) throws

    /// Deletes every ended job that ended before `cutoff`. Returns their ids.
    func jobsDeleteEnded(before cutoff: Date) throws -> [JobID]

    /// Gives the space of deleted rows back to the file system, if no other
    /// connection is using the database right now. Returns whether it did.
    func storageCompact() throws -> Bool

    /// Gives back the space of the store's write-ahead log, if no reader
    /// needs it (a daemon calls it when it becomes idle).
    func storageTruncateLog() throws

    /// A value that changes whenever anyone commits to the store, read
    /// without querying it (`nil` when the backend cannot tell): an idle
    /// follower compares it instead of running its queries on every poll.
    func storageVersion() -> StorageVersion?

    /// Waits until the store's version is no longer `version` (someone
    /// committed), or `timeout` seconds passed: blocking, and without a poll
    /// per moment where the backend can be told (SQLite: inotify on the
    /// database's folder). A waiting follower uses it once it is idle.
    func storageWaitForChange(from version: StorageVersion, timeout: TimeInterval)

    /// Whether the store is still the one at the location it was opened
    /// from: false once its file was deleted or moved away. A daemon whose
    /// store moved stops, rather than run work nobody can see.
    func storageStillAtLocation() -> Bool

    // MARK: - Leases

    /// Claims the next work in input order: first a chunk that was handed back
    /// or taken from a dead daemon, else a new chunk of up to `chunkSize(job)`
    /// stored items past the last claimed one. `chunkSize` gets the job and how
    /// many of its stored items are not yet in any chunk. Returns `nil` when
    /// there is nothing to claim.
    /// Which job is decided by `FairShare`, inside the claim's transaction.
    /// `after` is the lease the claiming worker just finished: it is not
    /// counted as running, whether or not its end is committed yet. With
    /// `sameJob`, the worker asks for more of that lease's job (a stream-mode
    /// slot keeps feeding its running process): it gets a chunk only while
    /// that job is still the one owed a worker. Jobs in `excluding` are not
    /// candidates (a daemon's `--allow` refused their command).
    func chunkClaim(
        owner: String, now: Date, leaseDuration: TimeInterval, after previous: ChunkLease?, sameJob: Bool,
        excluding: Set<JobID>, chunkSize: (Job, _ unclaimed: Int64) -> Int
    ) throws -> ChunkLease?

    /// The items of the lease's range that have no result yet, in line order,
    /// starting after `afterLine`, at most `limit` of them.
    func itemsPending(for lease: ChunkLease, afterLine: Int64, limit: Int) throws -> [WorkItem]

    /// Whether the lease still holds.
    func leaseStatus(_ lease: ChunkLease) throws -> LeaseStatus

    /// Records several batches of results in one transaction (a group
    /// commit), each one only if its lease is still held and its job still
    /// runnable (or draining); a batch whose lease is not held records
    /// nothing and does not stop the others. Completion order is assigned
    /// here, in the order of the batches. Returns each batch's outcome, in
    /// order. A batch that `completesChunk` marks its chunk done.
    func resultsRecordIfLeasesHeld(_ batches: [ResultBatch], now: Date) throws -> [RecordOutcome]

    /// Whether any chunk of the job is still leased: items may still be
    /// running (and, for a job halted with `soon`, still record results).
    func chunksLeasedExist(job: JobID) throws -> Bool

    /// Every chunk held now: who holds it, for which job and lines.
    func chunksLeasedList() throws -> [LeasedChunk]

    /// The chunks `owner` holds now, as leases (for a daemon's audit of
    /// chunks held with no worker on them).
    func chunksHeld(owner: String) throws -> [ChunkLease]

    /// Hands a chunk back so that its unfinished items are claimed again
    /// (by anyone), if the lease is still held.
    func chunkReleaseIfLeaseHeld(_ lease: ChunkLease) throws

    /// Extends the expiry of every chunk `owner` holds. Returns how many.
    func chunksRenewLeases(owner: String, now: Date, leaseDuration: TimeInterval) throws -> Int

    /// Hands back every chunk `owner` holds (a daemon shutting down).
    func chunksReleaseOwned(owner: String) throws -> Int

    /// Hands back every chunk whose lease expired before `now`: the rescue for
    /// daemons that died on another host. Returns how many.
    func chunksReleaseExpired(now: Date) throws -> Int

    // MARK: - Results

    /// Results in input order, with lines greater than `afterLine`.
    func resultsByLine(job: JobID, afterLine: Int64, limit: Int) throws -> [ItemResult]

    /// Results in completion order, with sequence numbers greater than `afterSequence`.
    func resultsBySequence(job: JobID, afterSequence: Int64, limit: Int) throws -> [ItemResult]

    /// How many of the job's results were recorded at or after `since`.
    func resultsCount(job: JobID, finishedSince since: Date) throws -> Int

    /// Items claimed by a daemon and not finished yet (running, or waiting
    /// their turn in a claimed chunk); runs of the finished items; finished
    /// items that needed more than one run.
    func itemCounts(job: JobID) throws -> (claimed: Int64, attempts: Int64, retried: Int64)

    /// The job's failed results in line order, at most `limit`.
    func resultsFailed(job: JobID, limit: Int) throws -> [ItemResult]

    /// The median runtime, in seconds, of the job's most recent 1,001
    /// successful items; `nil` before the first success.
    func resultsMedianDuration(job: JobID) throws -> Double?

    /// The runtimes, in seconds, of the job's most recent `limit` successful
    /// items, newest first (a page of the index on completion order).
    func resultsRecentDurations(job: JobID, limit: Int) throws -> [Double]

    /// When the results with these completion sequences finished (those that
    /// exist), by sequence: one index seek each, however large the job. The
    /// dashboard samples a job's throughput over its whole life with it.
    func resultsFinishTimes(job: JobID, sequences: [Int64]) throws -> [Int64: Date]

    // MARK: - Daemons

    /// Registers a daemon, or refreshes its record.
    func daemonRegister(_ daemon: DaemonRecord) throws

    /// Records that the daemon is alive. Returns `false` when its record is
    /// gone (another daemon declared it dead): it must register again, and the
    /// chunks it held may have been taken.
    func daemonHeartbeat(id: String, now: Date) throws -> Bool

    func daemonsList() throws -> [DaemonRecord]

    /// Removes a daemon's record and hands back every chunk it holds, in one
    /// transaction: used for a daemon that shut down, and for one found dead.
    func daemonDeleteReleasingChunks(id: String) throws -> Int

    // MARK: - Operation

    /// The store's backlog for metrics, from counters and leased chunks,
    /// never by counting item rows (see `StoreBacklog`).
    func storeBacklog(now: Date) throws -> StoreBacklog

    /// Throws unless a write could be made within `timeout` seconds: a
    /// daemon's readiness. A read is not enough (in WAL mode readers are
    /// never blocked by a writer); nothing is changed.
    func storageProbeWrite(timeout: TimeInterval) throws

    /// How long a daemon's group commit waits for more results to join it
    /// (under load; a lone result is committed at once): what a commit costs
    /// decides it. A follower sees a result up to this much later.
    var groupCommitLinger: Duration { get }
}

extension BatchStore {
    /// 4 ms: a commit to a local file costs a few hundred microseconds.
    public var groupCommitLinger: Duration { .milliseconds(4) }

    /// Runs a finished job's failed (and unfinished) items again, with its own policy.
    public func jobRetryIfEnded(_ id: JobID, lines: [Int64]?, now: Date) throws -> Int {
        try jobRetryIfEnded(id, lines: lines, policy: .unchanged, now: now)
    }

    /// Jobs, newest first.
    public func jobsList(limit: Int) throws -> [Job] { try jobsList(limit: limit, states: nil, before: nil) }
    public func jobsList(limit: Int, states: Set<JobState>?) throws -> [Job] { try jobsList(limit: limit, states: states, before: nil) }

    /// Claims the next work of any job.
    public func chunkClaim(
        owner: String, now: Date, leaseDuration: TimeInterval, chunkSize: (Job, _ unclaimed: Int64) -> Int
    ) throws -> ChunkLease? {
        try chunkClaim(
            owner: owner, now: now, leaseDuration: leaseDuration, after: nil, sameJob: false, excluding: [], chunkSize: chunkSize)
    }

    /// A claim with no job excluded.
    public func chunkClaim(
        owner: String, now: Date, leaseDuration: TimeInterval, after previous: ChunkLease?, sameJob: Bool,
        chunkSize: (Job, _ unclaimed: Int64) -> Int
    ) throws -> ChunkLease? {
        try chunkClaim(
            owner: owner, now: now, leaseDuration: leaseDuration, after: previous, sameJob: sameJob, excluding: [],
            chunkSize: chunkSize)
    }

    /// Records results for items of the lease's range, in one transaction, if
    /// the lease is still held and the job still runnable: a group commit of
    /// one batch.
    public func resultsRecordIfLeaseHeld(
        _ lease: ChunkLease, results: [ItemRecord],
        completesChunk: Bool, now: Date
    ) throws -> RecordOutcome {
        try resultsRecordIfLeasesHeld(
            [ResultBatch(lease: lease, results: results, completesChunk: completesChunk)], now: now)[0]
    }
}

/// An opaque marker of a store's committed state (see `storageVersion()`):
/// equal markers mean nothing was committed in between.
public struct StorageVersion: Sendable, Hashable {
    public var parts: [Int64]
    public init(_ parts: [Int64]) { self.parts = parts }
}
