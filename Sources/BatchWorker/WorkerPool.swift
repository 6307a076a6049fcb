import BatchStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// A daemon's pool of worker slots: each slot claims a chunk, runs its items
/// one by one through the handler and records each result as soon as it is
/// known, so followers see it within their poll interval.
///
/// Guarantees:
/// - A result is recorded only under the chunk's current lease (fenced): a
///   slot whose lease was taken over records nothing more for that chunk.
/// - Graceful shutdown stops claiming, lets running items finish for
///   `grace`, then kills what still runs; every chunk the daemon still holds
///   is handed back, so its unfinished items are claimed again at once.
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
    private let stopping = Atomic<Bool>(false)

    public init(store: any BatchStore, handler: any ItemHandler, configuration: WorkerPoolConfiguration, logger: Logger) {
        self.store = store
        self.handler = handler
        self.configuration = configuration
        self.sizer = AdaptiveChunkSizer(workers: configuration.workers)
        self.logger = logger
        self.faults = StoreFaultLog(logger: logger)
    }

    private enum Event: Sendable {
        case slotFinished
        case shutdownRequested
        case graceExpired
    }

    public func run() async throws {
        await withTaskGroup(of: Event.self) { group in
            for _ in 0..<configuration.workers {
                group.addTask { await self.runSlot(); return .slotFinished }
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
                case .graceExpired:
                    if running > 0 {
                        logger.warning("grace period over: killing \(running) running item(s); they will run again")
                        group.cancelAll()
                    }
                }
            }
        }
        // Runs after cancellation too: hand back whatever is still held.
        do {
            let released = try store.chunksReleaseOwned(owner: configuration.owner)
            if released > 0 { logger.info("handed back \(released) unfinished chunk(s)") }
        } catch {
            logger.error("could not hand back chunks (they return when the lease expires): \(error)")
        }
    }

    var isStopping: Bool { stopping.load(ordering: .sequentiallyConsistent) || Task.isCancelled }

    // MARK: - Slots

    func runSlot() async {
        var delay = configuration.pollInterval.lowerBound
        while !isStopping {
            let lease: ChunkLease?
            do {
                lease = try store.chunkClaim(
                    owner: configuration.owner, now: Date(), leaseDuration: configuration.leaseDuration,
                    chunkSize: { [sizer] job, unclaimed in sizer.size(for: job, unclaimed: unclaimed) })
                faults.succeeded()
            } catch {
                faults.failed("claiming work", error)
                try? await Task.sleep(for: .milliseconds(500))
                continue
            }
            guard let lease else {
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, configuration.pollInterval.upperBound)
                continue
            }
            delay = configuration.pollInterval.lowerBound
            await work(on: lease)
        }
    }

    /// Runs the lease's unfinished items in line order, recording each result.
    func work(on lease: ChunkLease) async {
        var afterLine = lease.firstLine - 1
        while true {
            let page: [WorkItem]
            do {
                page = try store.itemsPending(for: lease, afterLine: afterLine, limit: 64)
            } catch {
                faults.failed("reading items", error)
                try? await Task.sleep(for: .milliseconds(500))
                if isStopping { return }
                continue
            }
            if page.isEmpty {
                // Every item of the chunk has a result (some recorded before a take-over).
                _ = await record(lease, [], completesChunk: true)
                return
            }
            for item in page {
                if isStopping {
                    try? store.chunkReleaseIfLeaseHeld(lease)
                    return
                }
                guard case .finished(let outcome) = await runWatched(item, lease) else { return }
                sizer.observe(job: lease.job.id, seconds: outcome.duration)
                let outcomeRecorded = await record(
                    lease, [(item.line, outcome, 1)], completesChunk: item.line == lease.lastLine)
                guard outcomeRecorded == .recorded else {
                    if outcomeRecorded == .leaseLost {
                        logger.notice("job \(lease.job.id): lost the lease on lines \(lease.firstLine)-\(lease.lastLine); result of line \(item.line) discarded")
                    }
                    return
                }
                afterLine = item.line
            }
        }
    }

    private enum ItemRun: Sendable {
        case finished(ItemOutcome)
        case stopped
    }

    /// Runs one item while watching its job and lease; stops the item when the
    /// job is cancelled or the lease lost.
    private func runWatched(_ item: WorkItem, _ lease: ChunkLease) async -> ItemRun {
        let store = self.store
        let handler = self.handler
        let interval = configuration.watchInterval
        return await withTaskGroup(of: ItemRun.self) { group in
            group.addTask {
                do {
                    return .finished(try await handler.run(item, of: lease.job))
                } catch {
                    return .stopped
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled { break }
                    if let status = try? store.leaseStatus(lease), status != .held { return .stopped }
                }
                return .stopped
            }
            let first = await group.next() ?? .stopped
            group.cancelAll()
            return first
        }
    }

    /// Records results, retrying through store faults. `nil` when it gave up
    /// because the pool is being cancelled.
    private func record(
        _ lease: ChunkLease, _ results: [(line: Int64, outcome: ItemOutcome, attempts: Int)], completesChunk: Bool
    ) async -> RecordOutcome? {
        while true {
            do {
                let outcome = try store.resultsRecordIfLeaseHeld(
                    lease, results: results, completesChunk: completesChunk, now: Date())
                faults.succeeded()
                return outcome
            } catch {
                faults.failed("recording a result of job \(lease.job.id)", error)
                if Task.isCancelled { return nil }
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }
}
