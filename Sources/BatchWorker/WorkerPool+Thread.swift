import BatchStore
import Foundation

extension WorkerPool {
    enum ThreadRun: Sendable {
        /// Every item ran and its result was handed over.
        case finished
        /// The item at this index did not start: the task must look why.
        case interrupted(at: Int)
        /// The item at this index was stopped while it ran.
        case stopped
        /// The item at this index could not start for want of the daemon's
        /// resources: the lease is handed back and the slot waits.
        case resourceFault
        /// The item at this index failed its first attempt, and the job may
        /// retry it or halt: the task handles it.
        case failed(at: Int, ItemOutcome)
        /// A group failed for good and its results were handed over; the job
        /// may halt on it: the task commits them before going on at `next`.
        case groupFailed(next: Int)
    }

    /// Runs items one after another on one thread of `BlockingThreads`,
    /// handing each result to the committer from there, until they run out,
    /// one fails in a way the task must handle, or something says stop (the
    /// lease's verdict, the pool stopping, the task being cancelled).
    ///
    /// For a job with `grouping` (`-n`, `-X`) each run takes a group of the
    /// next items (never past the page, so never past the chunk). A failed
    /// group is run again here, as a whole, up to the job's retries; its
    /// final outcome becomes the result of each of its items (see
    /// `ItemGrouping`).
    func runOnThread(_ items: ArraySlice<WorkItem>, _ lease: ChunkLease, _ handler: any BlockingItemHandler) async -> ThreadRun {
        let stop = StopSignal()
        return await withTaskCancellationHandler {
            await BlockingThreads.shared.value { [self] in
                let spec = lease.job.spec
                var verifiedAt = ContinuousClock.now
                var index = items.startIndex
                while index < items.endIndex {
                    if isStoppingFlag || stop.isTriggered { return .interrupted(at: index) }
                    if let verdict = committer.verdict(for: lease), verdict != .recorded { return .interrupted(at: index) }
                    // The watcher may not have run since a gap (a SIGSTOP, a starved
                    // thread), and the lease may have been taken over meanwhile: look
                    // before starting, at most every two watch intervals.
                    if ContinuousClock.now - verifiedAt > configuration.watchInterval * 2 {
                        // Stopped, not interrupted: a fresh page would start with a fresh check time.
                        do {
                            if try store.leaseStatus(lease) != .held { return .stopped }
                            verifiedAt = .now
                        } catch {
                            // Unconfirmed: start nothing more on this chunk; the task looks again.
                            faults.failed("checking a lease", error)
                            return .stopped
                        }
                    }
                    let count = spec.grouping == nil ? 1 : max(1, handler.groupSize(items[index...], of: lease.job, slot: lease.slot))
                    let group = items[index..<(index + count)]
                    var attempts = 1
                    var outcome: ItemOutcome
                    while true {
                        metrics.running.increment()
                        let run = handler.attempt(group, of: lease.job, slot: lease.slot, timeout: timeout(for: lease.job), stop: stop)
                        metrics.running.decrement()
                        switch run {
                        case .finished(let finished): outcome = finished
                        case .stopped: return .stopped
                        case .resourceFault(let reason):
                            ResourceFaults.shared.failed(reason)
                            ResourceFaults.shared.log(logger: logger)
                            return .resourceFault
                        }
                        ResourceFaults.shared.succeeded(logger: logger)
                        if outcome.status == .succeeded || spec.grouping == nil || attempts > spec.retries { break }
                        // A failed group runs again, whole, after the backoff.
                        guard pauseOnThread(seconds: spec.retryDelay(after: attempts), holding: lease, stop: stop) else {
                            return .stopped
                        }
                        attempts += 1
                    }
                    if outcome.status == .succeeded {
                        sizer.observe(
                            job: lease.job.id, seconds: outcome.duration / Double(count),
                            bytes: Double(group.reduce(0) { $0 + $1.data.count }) / Double(max(1, group.count)))
                    } else if spec.grouping == nil, spec.retries > 0 || spec.halt != nil {
                        return .failed(at: index, outcome)
                    }
                    committer.submitNow(
                        lease, Self.results(of: group, outcome, attempts: attempts),
                        completesChunk: group.last?.line == lease.lastLine)
                    index += count
                    if outcome.status == .failed, spec.halt != nil { return .groupFailed(next: index) }
                    // The task waits for room: large outputs must not pile up in memory.
                    if committer.isFull, index < items.endIndex { return .interrupted(at: index) }
                }
                return .finished
            }
        } onCancel: {
            stop.trigger()
        }
    }

    /// One result per item of a run: the run's outcome for the first item,
    /// and for the others the same status, without the output (it is the
    /// first item's).
    static func results(of group: ArraySlice<WorkItem>, _ outcome: ItemOutcome, attempts: Int)
        -> [ItemRecord]
    {
        guard group.count > 1 else { return group.map { ItemRecord($0.line, outcome, attempts) } }
        var member = outcome
        member.output = Data()
        member.errorOutput = Data()
        return group.enumerated().map { offset, item in ItemRecord(item.line, offset == 0 ? outcome : member, attempts) }
    }

    /// Waits between runs of a failed group, on its thread, while watching
    /// the lease (every 200 ms) and the stop signal. `false`: do not run again.
    func pauseOnThread(seconds: Double, holding lease: ChunkLease, stop: StopSignal) -> Bool {
        let end = ContinuousClock.now + .seconds(DurationText.clamped(seconds))
        while ContinuousClock.now < end {
            if isStoppingFlag || stop.isTriggered { return false }
            let left = end - ContinuousClock.now
            let wait = min(.milliseconds(200), left)
            var poller = pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(max(1, wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000))
            _ = poll(&poller, stop.fd >= 0 ? 1 : 0, milliseconds)
            do {
                if try store.leaseStatus(lease) != .held { return false }
            } catch {
                faults.failed("checking a lease", error)
            }
        }
        return !(isStoppingFlag || stop.isTriggered)
    }
}
