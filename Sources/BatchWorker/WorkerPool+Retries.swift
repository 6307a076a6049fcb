import BatchStore
import Foundation

/// Retries, timeouts and pauses of the per-item path that does not block a
/// thread (an in-process handler, and the retries of a command's items).
extension WorkerPool {
    /// Runs an item until it succeeds or has used its retries (its first
    /// attempt may have run already), waiting with exponential backoff and
    /// jitter between runs. `nil` when the item was stopped (job ended, lease
    /// lost, shutdown): nothing is to be recorded.
    func runWithRetries(_ item: WorkItem, _ lease: ChunkLease, firstAttempt: ItemOutcome?) async -> (ItemOutcome, Int)? {
        let spec = lease.job.spec
        var attempt = 1
        var ran = firstAttempt.map { ItemRun.finished($0) }
        while true {
            let run: ItemRun
            if let done = ran {
                run = done
                ran = nil
            } else {
                run = await runItem(item, lease, timeout: timeout(for: lease.job))
            }
            guard case .finished(let outcome) = run else {
                return nil
            }
            if outcome.status == .succeeded {
                sizer.observe(job: lease.job.id, seconds: outcome.duration)
            }
            if outcome.status == .succeeded || attempt > spec.retries { return (outcome, attempt) }
            let delay = spec.retryDelay(after: attempt)
            logger.debug("job \(lease.job.id) line \(item.line): attempt \(attempt) failed; retrying in \(delay) s", metadata: lease.logMetadata)
            guard await pause(seconds: delay, holding: lease) else { return nil }
            attempt += 1
        }
    }

    /// Waits between retries while still watching the job and the lease.
    /// Returns `false` when the item must not run again.
    /// Timed on the monotonic clock: a step of the wall clock neither
    /// shortens nor stretches it.
    func pause(seconds: Double, holding lease: ChunkLease) async -> Bool {
        let end = ContinuousClock.now + .seconds(DurationText.clamped(seconds))
        while ContinuousClock.now < end {
            if isStopping { return false }
            try? await Task.sleep(for: min(.milliseconds(200), end - ContinuousClock.now))
            let store = self.store
            do {
                if try await offloadedUntilCancelled({ try store.leaseStatus(lease) }) != .held { return false }
            } catch {
                faults.failed("checking a lease", error)
            }
        }
        return !isStopping
    }

    /// The time limit for one run of an item of `job`, if any.
    func timeout(for job: Job) -> Double? {
        guard let timeout = job.spec.timeout else { return nil }
        if case .seconds = timeout { return timeout.seconds(median: nil) }
        return timeout.seconds(median: medians.median(for: job.id))
    }

    enum ItemRun: Sendable {
        case finished(ItemOutcome)
        case stopped
        case timedOut
    }

    /// Runs one item; past the timeout, if the job has one, the item is
    /// stopped and fails. (Only then is there a timer per item: it costs
    /// about as much as the rest of the pool's own work on a tiny item.)
    func runItem(_ item: WorkItem, _ lease: ChunkLease, timeout: Double?) async -> ItemRun {
        let handler = self.handler
        let started = Date()
        guard let timeout else {
            do {
                return .finished(try await handler.run(item, of: lease.job))
            } catch {
                return .stopped
            }
        }
        let run = await withTaskGroup(of: ItemRun.self) { group in
            group.addTask {
                do {
                    return .finished(try await handler.run(item, of: lease.job))
                } catch {
                    return .stopped
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(for: .seconds(timeout))
                    return .timedOut
                } catch {
                    return .stopped
                }
            }
            let first = await group.next() ?? .stopped
            // Cancelling the handler kills the command's process group; the group
            // waits for that, so a timed-out command is gone before it is recorded.
            group.cancelAll()
            return first
        }
        guard case .timedOut = run, !isStopping else { return run }
        let limit = String(format: "%.3g", timeout)
        return .finished(ItemOutcome(
            status: .failed, signal: SIGTERM, errorOutput: Data(), reason: "timed out after \(limit) s",
            startedAt: started, finishedAt: Date()))
    }
}
