import BatchStore
import Foundation
import Synchronization

/// How a stream slot gets its job's next chunk: at the chunk boundary, or
/// claimed ahead while its process still answers the current one.
extension WorkerPool {
    /// The job's next chunk for this slot's process, if the job is still the
    /// one owed this worker (`FairShare`, not counting the chunk `finished`):
    /// else the process ends and the slot claims afresh, handing over to a
    /// job of a higher priority or one owed its share at this chunk boundary.
    func claimSameJob(after finished: ChunkLease) async -> ContinuedChunk? {
        guard let next = await claimNext(after: finished) else { return nil }
        adopt(next.lease)
        return next
    }

    /// Makes `lease` the one this slot works on (for the committer's
    /// verdicts and the lease audit).
    func adopt(_ lease: ChunkLease) {
        committer.begin(lease)
        working(on: lease)
    }

    /// Claims the next chunk of `finished`'s job and reads its items. The
    /// claim and the read are one call on one blocking thread: between two
    /// chunks the process waits for both, and each hop between threads is
    /// paid on every chunk.
    func claimNext(after finished: ChunkLease) async -> ContinuedChunk? {
        let (store, owner, duration, sizer) = (store, configuration.owner, configuration.leaseDuration, sizer)
        let claimed: (lease: ChunkLease, items: Result<[WorkItem], any Error>)?
        do {
            claimed = try await offloadedUntilCancelled {
                guard let lease = try store.chunkClaim(
                    owner: owner, now: try store.storageClock(), leaseDuration: duration, after: finished, sameJob: true,
                    chunkSize: { job, unclaimed in sizer.size(for: job, unclaimed: unclaimed) })
                else { return nil }
                return (lease, Result { try store.itemsPending(for: lease, afterLine: lease.firstLine - 1, limit: Int(lease.lineCount)) })
            }
            faults.succeeded("claiming work")
        } catch {
            // The process ends; the slot claims afresh, through the fault path.
            faults.failed("claiming work", error)
            return nil
        }
        guard let (lease, read) = claimed else { return nil }
        switch read {
        case .success(let items):
            faults.succeeded("reading items")
            return ContinuedChunk(lease: lease, items: items)
        case .failure(let error):
            // Unknown, never empty: an empty list would complete the chunk
            // with its items never run.
            faults.failed("reading items", error)
            return ContinuedChunk(lease: lease, items: nil)
        }
    }

    /// Whether to claim the next chunk while the process answers `lease`:
    /// only when the chunk is known to take a moment (a chunk claimed ahead
    /// of a long one would sit idle, held from other daemons), and not for a
    /// job whose `-j` or `--rate` counts held chunks (one claimed ahead
    /// would count as a running command, or spend the rate early).
    /// Measured: the claim at each boundary, with the process idle, cost
    /// a few percent of stream mode's throughput.
    func shouldPrefetch(after lease: ChunkLease) -> Bool {
        let spec = lease.job.spec
        guard !isStopping, spec.maxRunning == nil, spec.rate == nil,
              let expected = sizer.expectedSeconds(for: lease.job.id, items: lease.lineCount)
        else { return false }
        return expected <= 0.5
    }
}

/// The next chunk of a stream slot's job, claimed while the process still
/// answers the current one. Whoever takes it owns it: fed to the process,
/// or handed back.
final class StreamPrefetch: Sendable {
    private let task = Mutex<Task<ContinuedChunk?, Never>?>(nil)

    @discardableResult
    func start(_ body: @escaping @Sendable () async -> ContinuedChunk?) -> Task<ContinuedChunk?, Never> {
        let started = Task { await body() }
        task.withLock { $0 = started }
        return started
    }

    func take() -> Task<ContinuedChunk?, Never>? { task.withLock { $0.take() } }
}
