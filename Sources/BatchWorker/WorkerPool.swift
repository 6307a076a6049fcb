import BatchStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// A daemon's pool of worker slots: each slot claims a chunk and runs its
/// items one by one through the handler, handing each result to the pool's
/// `ResultCommitter`, which records the results of all slots in group commits
/// a few milliseconds apart, so followers see them within their poll interval.
/// One watcher per lease checks the lease and its job while items run. A
/// handler that blocks anyway (`BlockingItemHandler`: commands) runs a page of
/// items at a time on one thread, so the slot's task wakes once per page.
///
/// Guarantees:
/// - A result is recorded only under the chunk's current lease (fenced): a
///   slot whose lease was taken over records nothing more for that chunk.
/// - An item is run again after a crash only if its result was not yet
///   committed; an item never has two results.
/// - Graceful shutdown stops claiming, lets running items finish for
///   `grace`, then kills what still runs; every chunk the daemon still holds
///   is handed back, so its unfinished items are claimed again at once.
/// - A failed item is run again up to the job's `retries`, with exponential
///   backoff and jitter, in the same slot (the other items of its chunk are
///   not re-run); only its final outcome is recorded, with its attempts.
/// - A run past the job's timeout is killed (its whole process group) and
///   counts as a failed attempt.
/// - A store fault (database full, locked beyond the busy timeout) stops
///   claiming and retries recording; a finished result is kept in memory
///   until it is recorded or its lease is lost.
public final class WorkerPool: Service {
    let store: any BatchStore
    let handler: any ItemHandler
    let configuration: WorkerPoolConfiguration
    let sizer: AdaptiveChunkSizer
    let logger: Logger
    let faults: StoreFaultLog
    let medians: MedianRuntimeCache
    let metrics = PoolMetrics()
    let committer: ResultCommitter
    private let stopping = Atomic<Bool>(false)
    /// The one wait for work the idle slots share.
    let idleSlots = SharedIdleWait()
    /// The lease each slot works on now (by slot index): what `auditLeases`
    /// compares the store's chunks of this daemon with.
    let slotLeases = Mutex<[Int: ChunkLease]>([:])
    /// Chunks found held with no slot on them at the last audit.
    let unattended = Mutex<Set<Int64>>([])
    /// The index of the slot a task works for.
    @TaskLocal static var slot: Int?
    /// The job slot (`{%}`) of the chunk a task works on.
    @TaskLocal static var jobSlot: Int = 1

    public init(
        store: any BatchStore, handler: any ItemHandler, configuration: WorkerPoolConfiguration, logger: Logger,
        faults: StoreFaultLog? = nil
    ) {
        self.store = store
        self.handler = handler
        self.configuration = configuration
        self.sizer = AdaptiveChunkSizer(workers: configuration.workers)
        self.logger = logger
        self.faults = faults ?? StoreFaultLog(logger: logger)
        self.medians = MedianRuntimeCache(store: store, faults: self.faults)
        self.committer = ResultCommitter(
            store: store, faults: self.faults, metrics: metrics, liveness: configuration.liveness, linger: store.groupCommitLinger)
    }

    private enum Event: Sendable {
        case slotFinished
        case auditorFinished
        case shutdownRequested
        case graceExpired
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            // The committer outlives the slots: it commits what they handed over
            // before the pool hands back its chunks.
            group.addTask { await self.committer.run() }
            await runSlots()
            committer.finish()
        }
        // Runs after cancellation too: hand back whatever is still held, but
        // never wait long for a store that does not answer (the chunks of a
        // daemon that is gone are taken back by the next one).
        let (store, owner) = (self.store, configuration.owner)
        switch await offloaded(within: .seconds(2), { try store.chunksReleaseOwned(owner: owner) }) {
        case .success(let released)?:
            if released > 0 { logger.info("handed back \(released) unfinished chunk(s)") }
        case .failure(let error)?:
            logger.error("could not hand back chunks (they return when the lease expires): \(error)")
        case nil:
            logger.error("the store did not answer within 2 s: chunks were not handed back (they return when the lease expires, or at once to the next daemon started here)")
        }
    }

    private func runSlots() async {
        await withTaskGroup(of: Event.self) { group in
            for index in 0..<configuration.workers {
                group.addTask {
                    await Self.$slot.withValue(index) { await self.runSlot() }
                    return .slotFinished
                }
            }
            group.addTask {
                // Ends with the slots (cancelled with the group).
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.configuration.auditInterval)
                    if Task.isCancelled || self.isStopping { break }
                    try? await offloadedUntilCancelled { self.configuration.liveness.pass("lease audit") { self.auditLeases() } }
                }
                return .auditorFinished
            }
            group.addTask {
                // Returns when graceful shutdown starts; throws when cancelled.
                try? await gracefulShutdown()
                return .shutdownRequested
            }
            var running = configuration.workers
            while let event = await group.next() {
                switch event {
                case .shutdownRequested:
                    stopping.store(true, ordering: .sequentiallyConsistent)
                    configuration.onStopping?()
                    if running > 0 {
                        logger.info("stopping: no new items; waiting up to \(configuration.grace) for running ones")
                        let grace = configuration.grace
                        group.addTask {
                            try? await Task.sleep(for: grace)
                            return .graceExpired
                        }
                    }
                case .slotFinished:
                    running -= 1
                    if running == 0 { group.cancelAll() }
                case .auditorFinished:
                    break
                case .graceExpired:
                    if running > 0 {
                        logger.warning("grace period over: killing \(running) running item(s); they will run again")
                        group.cancelAll()
                    }
                }
            }
        }
    }

    /// What the pool works on now: the jobs of its leases and the slots
    /// busy with them (for `batchd`'s status line).
    public func activity() -> (jobs: Int, busySlots: Int) {
        slotLeases.withLock { leases in (Set(leases.values.map(\.job.id)).count, leases.count) }
    }

    var isStopping: Bool { stopping.load(ordering: .sequentiallyConsistent) || Task.isCancelled }

    /// Whether graceful shutdown began (readable from any thread).
    var isStoppingFlag: Bool { stopping.load(ordering: .sequentiallyConsistent) }

    // MARK: - Slots

    func runSlot() async {
        var delay = configuration.pollInterval.lowerBound
        // The lease this slot finished last: not one of its job's running
        // commands any more, even before its end is committed (`FairShare`).
        var previous: ChunkLease?
        // The store's version before an idle claim: a commit after it wakes
        // the slot from its wait for a change.
        var seen: StorageVersion?
        var lastClaimFoundWork = false
        while !isStopping {
            let backoff = ResourceFaults.shared.backoff
            if backoff > .zero {
                ResourceFaults.shared.log(logger: logger)
                try? await Task.sleep(for: backoff)
            }
            let lease: ChunkLease?
            do {
                let started = DispatchTime.now()
                // Read before a claim that follows an empty one, so an idle
                // slot waits for the next commit at once. (It used to poll 5,
                // 10, 20... ms first: a job submitted to an idle daemon waited
                // up to 100 ms for its first claim.) Not after a claim that
                // found work: on a server the read is a query, and a busy
                // slot's next empty claim is followed by one short poll.
                seen = lastClaimFoundWork ? nil : store.storageVersion()
                let (store, owner, duration, sizer, finished) = (store, configuration.owner, configuration.leaseDuration, sizer, previous)
                let excluded = configuration.admission.excluded
                // Cancellable: a daemon that stops does not wait for a claim
                // stuck on a locked store (a late claim's chunk is handed back
                // by the next daemon here, its holder being gone).
                let (liveness, loop) = (configuration.liveness, "claims of slot \(Self.slot ?? 0)")
                lease = try await offloadedUntilCancelled {
                    try liveness.pass(loop) { try store.chunkClaim(
                        owner: owner, now: try store.storageClock(), leaseDuration: duration, after: finished, sameJob: false,
                        excluding: excluded, chunkSize: { job, unclaimed in sizer.size(for: job, unclaimed: unclaimed) }) }
                }
                if lease != nil { metrics.claimDuration.recordInterval(since: started) }
                faults.succeeded("claiming work")
            } catch {
                faults.failed("claiming work", error)
                try? await Task.sleep(for: .milliseconds(500))
                continue
            }
            lastClaimFoundWork = lease != nil
            guard let lease else {
                if let seen, await waitForWork(since: seen) { continue }
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, configuration.pollInterval.upperBound)
                continue
            }
            delay = configuration.pollInterval.lowerBound
            guard configuration.admission.admits(lease.job) else {
                await refuse(lease)
                continue
            }
            previous = lease
            working(on: lease)
            if lease.job.spec.stream, handler.runsStreamProcesses {
                await workStream(startingWith: lease)
                // A stream slot moves on through leases of its job: the last counts.
                previous = Self.slot.flatMap { slot in slotLeases.withLock { $0[slot] } } ?? lease
            } else {
                await Self.$jobSlot.withValue(lease.slot) { await work(on: lease) }
                if lease.job.spec.maxRunning != nil {
                    // The chunk counts against the job's -j until its end is
                    // committed: commit it before claiming again.
                    await committer.flush()
                }
            }
            working(on: nil)
        }
    }

    /// Hands back a chunk of a job whose command `--allow` refuses (the job
    /// is excluded from this daemon's claims from now on) and records why on
    /// the job, for `batch status`.
    private func refuse(_ lease: ChunkLease) async {
        await release(lease)
        let reason = configuration.admission.reason(for: lease.job, daemon: configuration.displayName)
        logger.notice("job \(lease.job.id): not run here: \(reason)", metadata: lease.logMetadata)
        let store = self.store
        do {
            try await offloadedUntilCancelled { try store.jobWarningRecord(lease.job.id, reason, now: try store.storageClock()) }
        } catch {
            faults.failed("recording a warning", error)
        }
    }

    /// An idle slot's wait when no job has work to claim: until the store
    /// reports a commit since `version` (a job submitted, a chunk handed
    /// back, anything), or `idleWait` at most. False, without waiting, when
    /// some job has work no one holds: it may be waiting on a rate limit or
    /// `-j`, which time or another daemon's commit lifts, so the slot polls.
    /// An open job whose items are all taken is no reason to poll: its next
    /// items are a change.
    /// Measured: an idle daemon's two slots polling ten times a second used
    /// 70 ms of CPU per 10 s.
    ///
    /// The pool's idle slots share one wait (`SharedIdleWait`): a change
    /// wakes them all to claim; a wait that ends with no change is followed
    /// by the next, without a claim.
    private func waitForWork(since version: StorageVersion) async -> Bool {
        let (store, idleWait, faults) = (store, configuration.idleWait, faults)
        while !isStopping {
            let outcome = await idleSlots.wait {
                do {
                    return try await offloadedUntilCancelled {
                        guard try !store.jobsClaimableExist() else { return IdleWaitOutcome.runnable }
                        store.storageWaitForChange(from: version, timeout: idleWait)
                        return store.storageVersion() == version ? .quiet : .changed
                    }
                } catch is CancellationError {
                    return .changed
                } catch {
                    faults.failed("waiting for work", error)
                    return .failed
                }
            }
            switch outcome {
            case .runnable, .failed: return false
            case .changed: return true
            case .quiet:
                // Nothing to claim: the next wait's first check
                // (`jobsClaimableExist`) is the fallback poll for a change
                // that sent no notification.
                continue
            }
        }
        return true
    }

    /// Runs the lease's unfinished items in line order, handing each result
    /// to the committer, while a watcher checks the lease and its job every
    /// `watchInterval` and stops the work when either is gone.
    func work(on lease: ChunkLease) async {
        committer.begin(lease)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.runItems(of: lease) }
            group.addTask { await self.watch(lease) }
            await group.next()
            group.cancelAll()
        }
        committer.forget(lease)
    }

    /// Returns when the lease is lost or its job ended (a job halted with
    /// `soon` drains: its running items go on), or when cancelled; and when
    /// the lease could not be confirmed for a whole lease duration (the store
    /// does not answer): past that another daemon may have taken the chunk,
    /// so the worker fences itself, stopping the chunk's commands rather than
    /// run them beside their next runs.
    private func watch(_ lease: ChunkLease) async {
        var confirmed = ContinuousClock.now
        let store = self.store
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.watchInterval)
            if Task.isCancelled { return }
            // A check that hangs (a server cut off by the network) must not
            // outlast the lease: it is given up when the lease would end.
            let lease = lease
            let left = confirmed + .seconds(configuration.leaseDuration) - ContinuousClock.now
            do {
                guard let status = try await offloadedUntilCancelled(within: max(left, .milliseconds(10)), { try store.leaseStatus(lease) }) else {
                    throw StoreError(.unavailable, "the store did not answer a lease check")
                }
                faults.succeeded("checking a lease")
                if status != .held, status != .draining { return }
                confirmed = .now
            } catch is CancellationError {
                return
            } catch {
                faults.failed("checking a lease", error)
                if ContinuousClock.now - confirmed >= .seconds(configuration.leaseDuration) {
                    logger.error("job \(lease.job.id): the lease on lines \(lease.firstLine)-\(lease.lastLine) could not be confirmed for \(Int(configuration.leaseDuration)) s: stopping its commands; it records nothing more", metadata: lease.logMetadata)
                    committer.fence(lease)
                    return
                }
            }
        }
    }

    /// Items read per page: whole groups (a group never spans pages).
    static func pageSize(for job: Job) -> Int {
        guard let grouping = job.spec.grouping else { return 64 }
        let unit = grouping.chunkUnit
        return unit * max(1, 64 / unit)
    }

    private func runItems(of lease: ChunkLease) async {
        var afterLine = lease.firstLine - 1
        while true {
            let page: [WorkItem]
            do {
                let (store, after, limit) = (store, afterLine, Self.pageSize(for: lease.job))
                page = try await offloadedUntilCancelled { try store.itemsPending(for: lease, afterLine: after, limit: limit) }
            } catch {
                faults.failed("reading items", error)
                try? await Task.sleep(for: .milliseconds(500))
                if isStopping { return await release(lease) }
                continue
            }
            if page.isEmpty {
                // Every item of the chunk has a result (some recorded before a take-over).
                await committer.submit(lease, [], completesChunk: true)
                return
            }
            var index = page.startIndex
            while index < page.endIndex {
                switch committer.verdict(for: lease) {
                case nil, .recorded:
                    break
                case .recordedJobEnded, .jobEnded:
                    // The job ended: hand the rest back, should it be retried.
                    return await release(lease)
                case .leaseLost:
                    logger.notice("job \(lease.job.id): lost the lease on lines \(lease.firstLine)-\(lease.lastLine); results from line \(page[index].line) on are not recorded", metadata: lease.logMetadata)
                    return
                }
                if isStopping { return await release(lease) }
                var firstAttempt: ItemOutcome?
                if let blocking = handler as? BlockingItemHandler {
                    switch await runOnThread(page[index...], lease, blocking) {
                    case .finished:
                        index = page.endIndex
                        continue
                    case .interrupted(let at):
                        index = at
                        await committer.waitForRoom()
                        continue
                    case .stopped:
                        return await release(lease)
                    case .resourceFault:
                        await release(lease)
                        try? await Task.sleep(for: ResourceFaults.shared.backoff)
                        return
                    case .failed(let at, let outcome):
                        index = at
                        firstAttempt = outcome
                    case .groupFailed(let next):
                        // The failure may halt the job: know before starting another run.
                        await committer.flush()
                        index = next
                        continue
                    }
                }
                let item = page[index]
                metrics.running.increment()
                let run = await runWithRetries(item, lease, firstAttempt: firstAttempt)
                metrics.running.decrement()
                guard let (outcome, attempts) = run else {
                    // Stopped: the job ended, the lease was lost or the pool stops. Hand
                    // back what is still ours (a no-op when the lease was lost).
                    return await release(lease)
                }
                await committer.submit(lease, [ItemRecord(item.line, outcome, attempts)], completesChunk: item.line == lease.lastLine)
                if outcome.status == .failed && lease.job.spec.halt != nil {
                    // This failure may halt the job: know before starting another item.
                    await committer.flush()
                }
                index += 1
            }
            afterLine = page[page.endIndex - 1].line
            await committer.waitForRoom()
        }
    }

    /// Hands the lease back once the results handed over for it are
    /// committed (a hand-back first would have them rejected).
    /// While the pool stops, a store that does not answer gets a second:
    /// the daemon's exit must not wait out a busy timeout (the chunk comes
    /// back when its lease expires, or at once to the next daemon here).
    func release(_ lease: ChunkLease) async {
        await committer.flush()
        let store = self.store
        if isStopping {
            if case .failure(let error)? = await offloaded(within: .seconds(1), { try store.chunkReleaseIfLeaseHeld(lease) }) {
                faults.failed("handing back a chunk", error)
            }
            return
        }
        do {
            try await offloaded { try store.chunkReleaseIfLeaseHeld(lease) }
        } catch {
            // The lease expires, or the daemon's audit hands the chunk back.
            faults.failed("handing back a chunk", error)
        }
    }
}
