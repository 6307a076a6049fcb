import BatchStore
import Foundation
import Synchronization

/// A real `SQLiteStore` behind a switch that makes chosen operations fail,
/// as a store that stops answering does: the one fault a test cannot cause
/// in SQLite itself (a read in WAL mode does not wait for the write lock).
/// Every operation is the real one otherwise.
final class FaultInjectingStore: BatchStore {
    let base: SQLiteStore
    private let failing = Mutex<Set<String>>([])

    init(_ base: SQLiteStore) { self.base = base }

    /// From now on, these operations throw a storage error.
    func fail(_ operations: Set<String>) { failing.withLock { $0 = operations } }

    private func check(_ operation: String) throws {
        if failing.withLock({ $0.contains(operation) }) {
            throw StoreError(.storage, "injected fault: \(operation) does not answer")
        }
    }

    var location: StoreLocation { base.location }
    var legacyOwner: UInt32 { base.legacyOwner }

    func storageClock() throws -> Date {
        try check("storageClock"); return try base.storageClock()
    }

    func close() throws {
        try check("close"); return try base.close()
    }

    func jobCreate(_ spec: JobSpec, now: Date) throws -> Job {
        try check("jobCreate"); return try base.jobCreate(spec, now: now)
    }

    func jobSubmitterRecordIfOpen(_ id: JobID, _ submitter: ProcessIdentity) throws {
        try check("jobSubmitterRecordIfOpen"); return try base.jobSubmitterRecordIfOpen(id, submitter)
    }

    func jobWarningRecord(_ id: JobID, _ warning: String, now: Date) throws {
        try check("jobWarningRecord"); return try base.jobWarningRecord(id, warning, now: now)
    }

    func jobFetch(_ id: JobID) throws -> Job? {
        try check("jobFetch"); return try base.jobFetch(id)
    }

    func jobsList(limit: Int, states: Set<JobState>?, before: JobID?) throws -> [Job] {
        try check("jobsList"); return try base.jobsList(limit: limit, states: states, before: before)
    }

    func jobsRunnableExist() throws -> Bool {
        try check("jobsRunnableExist"); return try base.jobsRunnableExist()
    }
    func jobsClaimableExist() throws -> Bool {
        try check("jobsClaimableExist"); return try base.jobsClaimableExist()
    }

    func itemsAppendIfOpen(job: JobID, firstLine: Int64, items: [Data]) throws {
        try check("itemsAppendIfOpen"); return try base.itemsAppendIfOpen(job: job, firstLine: firstLine, items: items)
    }

    func itemFetch(job: JobID, line: Int64) throws -> Data? {
        try check("itemFetch"); return try base.itemFetch(job: job, line: line)
    }

    func itemsFetch(job: JobID, lines: [Int64]) throws -> [Int64: Data] {
        try check("itemsFetch"); return try base.itemsFetch(job: job, lines: lines)
    }

    func jobSealIfOpen(_ id: JobID, now: Date) throws -> Job {
        try check("jobSealIfOpen"); return try base.jobSealIfOpen(id, now: now)
    }

    func jobCancelIfRunnable(_ id: JobID, now: Date) throws -> Bool {
        try check("jobCancelIfRunnable"); return try base.jobCancelIfRunnable(id, now: now)
    }

    func jobRetryIfEnded(_ id: JobID, lines: [Int64]?, policy: JobPolicyChange, now: Date) throws -> Int {
        try check("jobRetryIfEnded"); return try base.jobRetryIfEnded(id, lines: lines, policy: policy, now: now)
    }

    func jobPrioritySetIfRunnable(_ id: JobID, priority: Int) throws {
        try check("jobPrioritySetIfRunnable"); return try base.jobPrioritySetIfRunnable(id, priority: priority)
    }

    func jobsSchedulingCandidates() throws -> [FairShare.Candidate] {
        try check("jobsSchedulingCandidates"); return try base.jobsSchedulingCandidates()
    }

    func jobDelete(_ id: JobID, force: Bool) throws {
        try check("jobDelete"); return try base.jobDelete(id, force: force)
    }

    func jobsDeleteEnded(before cutoff: Date) throws -> [JobID] {
        try check("jobsDeleteEnded"); return try base.jobsDeleteEnded(before: cutoff)
    }

    func storageCompact() throws -> Bool {
        try check("storageCompact"); return try base.storageCompact()
    }

    func storageTruncateLog() throws {
        try check("storageTruncateLog"); return try base.storageTruncateLog()
    }

    func storageVersion() -> StorageVersion? {
        return base.storageVersion()
    }

    func storageWaitForChange(from version: StorageVersion, timeout: TimeInterval) {
        return base.storageWaitForChange(from: version, timeout: timeout)
    }

    func storageStillAtLocation() -> Bool {
        return base.storageStillAtLocation()
    }

    func chunkClaim( owner: String, now: Date, leaseDuration: TimeInterval, after previous: ChunkLease?, sameJob: Bool, excluding: Set<JobID>, chunkSize: (Job, _ unclaimed: Int64) -> Int ) throws -> ChunkLease? {
        try check("chunkClaim"); return try base.chunkClaim(owner: owner, now: now, leaseDuration: leaseDuration, after: previous, sameJob: sameJob, excluding: excluding, chunkSize: chunkSize)
    }

    func itemsPending(for lease: ChunkLease, afterLine: Int64, limit: Int) throws -> [WorkItem] {
        try check("itemsPending"); return try base.itemsPending(for: lease, afterLine: afterLine, limit: limit)
    }

    func leaseStatus(_ lease: ChunkLease) throws -> LeaseStatus {
        try check("leaseStatus"); return try base.leaseStatus(lease)
    }

    func resultsRecordIfLeasesHeld(_ batches: [ResultBatch], now: Date) throws -> [RecordOutcome] {
        try check("resultsRecordIfLeasesHeld"); return try base.resultsRecordIfLeasesHeld(batches, now: now)
    }

    func chunksLeasedExist(job: JobID) throws -> Bool {
        try check("chunksLeasedExist"); return try base.chunksLeasedExist(job: job)
    }

    func chunksLeasedList() throws -> [LeasedChunk] {
        try check("chunksLeasedList"); return try base.chunksLeasedList()
    }

    func chunksHeld(owner: String) throws -> [ChunkLease] {
        try check("chunksHeld"); return try base.chunksHeld(owner: owner)
    }

    func chunkReleaseIfLeaseHeld(_ lease: ChunkLease) throws {
        try check("chunkReleaseIfLeaseHeld"); return try base.chunkReleaseIfLeaseHeld(lease)
    }

    func chunksRenewLeases(owner: String, now: Date, leaseDuration: TimeInterval) throws -> Int {
        try check("chunksRenewLeases"); return try base.chunksRenewLeases(owner: owner, now: now, leaseDuration: leaseDuration)
    }

    func chunksReleaseOwned(owner: String) throws -> Int {
        try check("chunksReleaseOwned"); return try base.chunksReleaseOwned(owner: owner)
    }

    func chunksReleaseExpired(now: Date) throws -> Int {
        try check("chunksReleaseExpired"); return try base.chunksReleaseExpired(now: now)
    }

    /// Reads by line so far: calls, and rows read by calls of more than one
    /// row (a follower's pages, not its one-row looks).
    let lineReads = Mutex<(calls: Int, pageRows: Int)>((0, 0))

    func resultsByLine(job: JobID, afterLine: Int64, limit: Int) throws -> [ItemResult] {
        try check("resultsByLine")
        let page = try base.resultsByLine(job: job, afterLine: afterLine, limit: limit)
        lineReads.withLock { $0.calls += 1; if limit > 1 { $0.pageRows += page.count } }
        return page
    }

    func resultsBySequence(job: JobID, afterSequence: Int64, limit: Int) throws -> [ItemResult] {
        try check("resultsBySequence"); return try base.resultsBySequence(job: job, afterSequence: afterSequence, limit: limit)
    }

    func resultsCount(job: JobID, finishedSince since: Date) throws -> Int {
        try check("resultsCount"); return try base.resultsCount(job: job, finishedSince: since)
    }

    func itemCounts(job: JobID) throws -> (claimed: Int64, attempts: Int64, retried: Int64) {
        try check("itemCounts"); return try base.itemCounts(job: job)
    }

    func resultsFailed(job: JobID, limit: Int) throws -> [ItemResult] {
        try check("resultsFailed"); return try base.resultsFailed(job: job, limit: limit)
    }

    func resultsRecentDurations(job: JobID, limit: Int) throws -> [Double] {
        try check("resultsRecentDurations"); return try base.resultsRecentDurations(job: job, limit: limit)
    }
    func resultsFinishTimes(job: JobID, sequences: [Int64]) throws -> [Int64: Date] {
        try check("resultsFinishTimes"); return try base.resultsFinishTimes(job: job, sequences: sequences)
    }
    func resultsMedianDuration(job: JobID) throws -> Double? {
        try check("resultsMedianDuration"); return try base.resultsMedianDuration(job: job)
    }

    func daemonRegister(_ daemon: DaemonRecord) throws {
        try check("daemonRegister"); return try base.daemonRegister(daemon)
    }

    func daemonHeartbeat(id: String, now: Date) throws -> Bool {
        try check("daemonHeartbeat"); return try base.daemonHeartbeat(id: id, now: now)
    }

    func daemonsList() throws -> [DaemonRecord] {
        try check("daemonsList"); return try base.daemonsList()
    }

    func daemonDeleteReleasingChunks(id: String) throws -> Int {
        try check("daemonDeleteReleasingChunks"); return try base.daemonDeleteReleasingChunks(id: id)
    }
    func storeBacklog(now: Date) throws -> StoreBacklog {
        try check("storeBacklog"); return try base.storeBacklog(now: now)
    }
    var groupCommitLinger: Duration { base.groupCommitLinger }

    func storageProbeWrite(timeout: TimeInterval) throws {
        try check("storageProbeWrite"); try base.storageProbeWrite(timeout: timeout)
    }
}
