import BatchStore
import Foundation

/// The audit of held chunks: which lease each slot works on, and the
/// periodic comparison with the chunks the store says this daemon holds.
extension WorkerPool {
    /// Records which lease this task's slot works on now.
    func working(on lease: ChunkLease?) {
        guard let slot = Self.slot else { return }
        slotLeases.withLock { $0[slot] = lease }
    }

    /// The safety net for a chunk held with no worker on it (seen once under
    /// heavy load, issue 9): a chunk this daemon holds that no slot works on,
    /// at two audits in a row, is handed back with a warning, so its items
    /// run instead of waiting for the daemon to stop.
    func auditLeases() {
        let held: [ChunkLease]
        do {
            held = try store.chunksHeld(owner: configuration.owner)
        } catch {
            // A store fault: the next audit looks again.
            faults.failed("auditing held chunks", error)
            return
        }
        let working = slotLeases.withLock { Set($0.values.map { [$0.chunkID, $0.fence] }) }
        let idle = held.filter { !working.contains([$0.chunkID, $0.fence]) }
        let previously = unattended.withLock { unattended in
            defer { unattended = Set(idle.map(\.chunkID)) }
            return unattended
        }
        for lease in idle where previously.contains(lease.chunkID) {
            logger.warning("job \(lease.job.id): lines \(lease.firstLine)-\(lease.lastLine) were held with no worker on them; handing them back", metadata: lease.logMetadata)
            do {
                try store.chunkReleaseIfLeaseHeld(lease)
            } catch {
                faults.failed("handing back a chunk", error)
            }
        }
    }
}
