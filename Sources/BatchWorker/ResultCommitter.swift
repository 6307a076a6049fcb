import BatchStore
import Foundation
import Synchronization

/// Records the results of all of a pool's slots in shared group commits.
///
/// A slot hands its results over (`submit`) and goes on with its next item
/// without waiting for the disk; the committer gathers what every slot handed
/// over for up to `linger` and records it in one transaction, each batch
/// guarded by its own lease (`BatchStore.resultsRecordIfLeasesHeld`). One
/// transaction per item was the largest cost of the daemon's own after
/// starting processes; followers see a result at most `linger` later. When
/// `lingerBelow` results or more are already waiting (they arrived during
/// the last commit), the next commit starts at once.
///
/// Guarantees:
/// - Results are committed in the order they were submitted.
/// - `flush()` returns once everything submitted before it was committed (or
///   given up on at shutdown): a slot flushes before it reads which items of
///   a lease are pending and before it hands a lease back, so it never runs
///   an item whose result is still on its way, and its own results are not
///   rejected by the hand-back.
/// - A batch that was not recorded (lease lost, job ended) leaves a
///   `verdict` for its lease; a slot checks it before each item.
/// - On a store fault the commit is retried (results stay in memory) and
///   `submit` waits once `capacity` results are waiting, so memory stays
///   bounded. A crash loses only uncommitted results: their items run again.
final class ResultCommitter: Sendable {
    /// Job, chunk and fence: a verdict must never outlive its job and be
    /// found by a lease of another job's chunk.
    private struct LeaseKey: Hashable {
        var job: JobID
        var chunkID: Int64
        var fence: Int64
        init(_ lease: ChunkLease) { (job, chunkID, fence) = (lease.job.id, lease.chunkID, lease.fence) }
    }

    private struct State {
        var pending: [ResultBatch] = []
        var pendingResults = 0
        var pendingBytes = 0
        /// Bytes of the batches being committed now: still in memory.
        var committingBytes = 0
        /// Callers of `flush()`, resumed after the commit that includes every
        /// batch submitted before them.
        var barriers: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Callers of `submit` waiting for room.
        var waitingForRoom: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        var finishing = false
        /// When `finish()` was called.
        var finishingSince: ContinuousClock.Instant?
        /// The commit loop waits for work (`submitNow` wakes it only then).
        var loopIdle = false
        /// Makes `run()` return (see `finish()`).
        var loopDone: (@Sendable () -> Void)?
        /// The loop has returned: nothing more will be committed.
        var stopped = false
        var verdicts: [LeaseKey: RecordOutcome] = [:]
        /// Jobs a commit found ended (or ended itself, by its halt policy).
        var endedJobs: Set<JobID> = []
    }

    let store: any BatchStore
    let faults: StoreFaultLog
    let metrics: PoolMetrics
    let liveness: LoopLiveness
    let linger: Duration
    /// A commit lingers only while fewer results than this wait: a group
    /// this large is taken at once.
    let lingerBelow: Int
    let capacity: Int
    let capacityBytes: Int
    private let state = Mutex(State())
    /// What the commit loop waits on.
    private let wakeup = NSCondition()

    init(
        store: any BatchStore, faults: StoreFaultLog, metrics: PoolMetrics, liveness: LoopLiveness = LoopLiveness(),
        linger: Duration = .milliseconds(4), lingerBelow: Int = 256, capacity: Int = 20_000, capacityBytes: Int = 16 << 20
    ) {
        self.lingerBelow = lingerBelow
        self.liveness = liveness
        self.store = store
        self.faults = faults
        self.metrics = metrics
        self.linger = linger
        self.capacity = capacity
        self.capacityBytes = capacityBytes
    }

    // MARK: - Slots

    /// Hands results over for the next group commit. Waits only while the
    /// committer already holds `capacity` results (a store fault).
    func submit(_ lease: ChunkLease, _ results: [ItemRecord], completesChunk: Bool) async {
        await waitForRoom()
        submitNow(lease, results, completesChunk: completesChunk)
    }

    /// Hands results over without waiting: for a thread that cannot await.
    /// It must `waitForRoom()` every so many results.
    func submitNow(_ lease: ChunkLease, _ results: [ItemRecord], completesChunk: Bool) {
        let bytes = results.reduce(0) { $0 + $1.outcome.output.count + $1.outcome.errorOutput.count }
        let idle = state.withLock { state in
            state.pending.append(ResultBatch(lease: lease, results: results, completesChunk: completesChunk))
            state.pendingResults += results.count
            state.pendingBytes += bytes
            // Only a loop waiting for work needs waking: a lingering or
            // committing one takes these with the rest (a wake per item was
            // a context switch per item).
            return state.loopIdle
        }
        if idle { wake() }
    }

    private func full(_ state: State) -> Bool {
        !state.finishing
            && (state.pendingResults >= capacity || state.pendingBytes + state.committingBytes >= capacityBytes)
    }

    /// Whether a slot must `waitForRoom()` before it hands over more: a
    /// thread that hands results over with `submitNow` asks after each one,
    /// so large outputs do not pile up (15 MB each, they did, eight at once).
    var isFull: Bool { state.withLock { full($0) } }

    /// Waits while the committer holds `capacity` results (or bytes) or more,
    /// or until the task is cancelled.
    func waitForRoom() async {
        while !Task.isCancelled, state.withLock({ full($0) }) {
            await suspend(in: \.waitingForRoom, unless: { [self] in !full($0) })
        }
    }

    /// Waits until everything submitted so far is committed (or given up on),
    /// or until the task is cancelled: a cancelled slot stops at once, and
    /// what it submitted is still committed (or given up on) with the rest.
    func flush() async {
        await suspend(in: \.barriers, unless: { $0.stopped })
    }

    /// Suspends in one of the waiting lists until the commit loop resumes it,
    /// or the task is cancelled; not at all when `unless` holds.
    private func suspend(
        in list: any WritableKeyPath<State, [UInt64: CheckedContinuation<Void, Never>]> & Sendable,
        unless noNeed: (State) -> Bool
    ) async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let waiting = state.withLock { state in
                    // Cancelled before this point, the handler found nothing to resume.
                    if Task.isCancelled || noNeed(state) { return false }
                    state[keyPath: list][id] = continuation
                    return true
                }
                if waiting { wake() } else { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0[keyPath: list].removeValue(forKey: id) }?.resume()
        }
    }

    /// What became of the lease's batches, if one was not recorded
    /// (`.leaseLost`, `.jobEnded`) or ended the job (`.recordedJobEnded`), or
    /// `.jobEnded` when any slot's commit found the lease's job ended.
    func verdict(for lease: ChunkLease) -> RecordOutcome? {
        state.withLock { state in
            state.verdicts[LeaseKey(lease)] ?? (state.endedJobs.contains(lease.job.id) ? .jobEnded : nil)
        }
    }

    /// Starts a lease afresh: a job found ended earlier may have been retried
    /// since, and the new lease proves it runnable.
    func begin(_ lease: ChunkLease) {
        _ = state.withLock { $0.endedJobs.remove(lease.job.id) }
    }

    /// Gives up on a lease that could not be confirmed (self-fencing): its
    /// results not yet taken for a commit are dropped (their items run
    /// again), and its verdict becomes `.leaseLost`.
    func fence(_ lease: ChunkLease) {
        state.withLock { state in
            let key = LeaseKey(lease)
            let dropped = state.pending.filter { LeaseKey($0.lease) == key }
            state.pending.removeAll { LeaseKey($0.lease) == key }
            for batch in dropped {
                state.pendingResults -= batch.results.count
                state.pendingBytes -= batch.results.reduce(0) { $0 + $1.outcome.output.count + $1.outcome.errorOutput.count }
            }
            state.verdicts[key] = .leaseLost
        }
    }

    /// Forgets the lease's verdict: the slot is done with the lease.
    func forget(_ lease: ChunkLease) {
        _ = state.withLock { $0.verdicts.removeValue(forKey: LeaseKey(lease)) }
    }

    // MARK: - The commit loop

    /// Commits until `finish()` was called and nothing is left. Cancelling
    /// the task finishes it too; a failing commit is then tried a few more
    /// times and given up on (those items run again later).
    ///
    /// The loop runs on a thread of its own: a commit blocks (for the busy
    /// timeout, at worst), and a hop to another thread and back for every
    /// commit, hundreds a second, cost more than the commit's own work in
    /// stream mode. Once finishing, `run()` returns after 2 s at most even if
    /// a commit is stuck on a store that does not answer (its items run again).
    func run() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let once = ResumeOnce(continuation)
                state.withLock { $0.loopDone = { once.resume(()) } }
                let thread = Thread { [self] in
                    commitLoop()
                    once.resume(())
                }
                thread.name = "batch-committer"
                thread.start()
            }
        } onCancel: {
            finish()
        }
    }

    /// Wakes the commit loop: something was submitted, a flush waits, or
    /// the pool finishes. (Never called with `state` locked: the loop takes
    /// `wakeup` first and `state` inside it.)
    private func wake() {
        wakeup.lock()
        wakeup.signal()
        wakeup.unlock()
    }

    private func commitLoop() {
        while true {
            wakeup.lock()
            let idleFrom = ContinuousClock.now
            while state.withLock({ state in
                state.loopIdle = state.pending.isEmpty && state.barriers.isEmpty && !state.finishing
                return state.loopIdle
            }) {
                wakeup.wait()
            }
            // Linger so that more results join this commit; a flush or finish
            // cuts it short. Not after a quiet spell: a lone result (a job of
            // one item, the first after a pause) has nothing to wait for, and
            // its follower would wait the linger for nothing. Under load the
            // loop is never idle that long, so a small group lingers.
            let quiet = ContinuousClock.now - idleFrom > linger * 4
            // Nor when a group is already waiting: what arrived during the
            // last commit goes in at once, as in a classic group commit. In
            // stream mode the commits follow each other, and lingering after
            // each one left this thread, the daemon's busiest, idle.
            let grouped = state.withLock { $0.pendingResults >= lingerBelow }
            let until = Date().addingTimeInterval(Double(linger.components.attoseconds) / 1e18 + Double(linger.components.seconds))
            while !quiet, !grouped, state.withLock({ $0.barriers.isEmpty && !$0.finishing }), wakeup.wait(until: until) {}
            wakeup.unlock()
            // The barriers stay registered while their commit runs, so that a
            // cancelled `flush` can still take its own back.
            let (batches, barriers, finishing) = state.withLock { state in
                let taken = (state.pending, Array(state.barriers.keys), state.finishing)
                state.pending = []
                state.pendingResults = 0
                state.committingBytes = state.pendingBytes
                state.pendingBytes = 0
                return taken
            }
            if !batches.isEmpty { commit(batches) }
            let resumed = state.withLock { state in
                state.committingBytes = 0
                var resumed = Array(state.waitingForRoom.values)
                state.waitingForRoom = [:]
                for id in barriers {
                    if let continuation = state.barriers.removeValue(forKey: id) { resumed.append(continuation) }
                }
                if finishing && state.pending.isEmpty && state.barriers.isEmpty { state.stopped = true }
                return resumed
            }
            for continuation in resumed { continuation.resume() }
            if state.withLock({ $0.stopped }) { return }
        }
    }

    /// Makes `run()` commit what is left and return; later submissions are
    /// committed at once (without lingering).
    func finish() {
        let first = state.withLock { state in
            defer { state.finishingSince = state.finishingSince ?? .now }
            return state.finishingSince == nil
        }
        if first {
            // A commit stuck on a store that does not answer must not hold up
            // the exit: `run()` returns 2 s on (its items run again later).
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [self] in
                state.withLock { $0.loopDone }?()
            }
        }
        state.withLock { $0.finishing = true }
        wake()
    }

    /// Commits, retrying through store faults; once the pool is finishing,
    /// it gives up after a few attempts.
    private func commit(_ batches: [ResultBatch]) {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let outcomes = try liveness.pass("commit") {
                    try store.resultsRecordIfLeasesHeld(batches, now: try store.storageClock())
                }
                faults.succeeded("recording")
                state.withLock { state in
                    for (batch, outcome) in zip(batches, outcomes) where outcome != .recorded {
                        // Bounded: a slot forgets its leases, but one that stopped early may not.
                        if state.verdicts.count > 10_000 { state.verdicts.removeAll() }
                        state.verdicts[LeaseKey(batch.lease)] = outcome
                        if outcome == .jobEnded || outcome == .recordedJobEnded {
                            if state.endedJobs.count > 10_000 { state.endedJobs.removeAll() }
                            state.endedJobs.insert(batch.lease.job.id)
                        }
                    }
                }
                for (batch, outcome) in zip(batches, outcomes) where outcome == .recorded || outcome == .recordedJobEnded {
                    for result in batch.results { metrics.recorded(result.outcome) }
                }
                return
            } catch let error as StoreError where error.code == .constraint {
                // Retrying the same write cannot succeed: give these results up
                // (their items run again under a new lease) and say so.
                faults.logger.error("results could not be recorded and are given up (their items run again): \(error)")
                state.withLock { state in
                    for batch in batches { state.verdicts[LeaseKey(batch.lease)] = .leaseLost }
                }
                return
            } catch {
                let count = batches.reduce(0) { $0 + $1.results.count }
                faults.failed("recording \(count) result(s)", error, kind: "recording")
                if attempt >= 3, state.withLock({ $0.finishing }) {
                    for batch in batches {
                        state.withLock { $0.verdicts[LeaseKey(batch.lease)] = .leaseLost }
                    }
                    return
                }
                Thread.sleep(forTimeInterval: 0.25)
            }
        }
    }
}
