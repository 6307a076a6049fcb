import BatchStore

/// A chunk's row and its job's counters, as a group commit reads them.
struct PostgresChunkRow {
    var jobID: JobID
    var state: String?
    var fence: Int64?
    var owner: String?
    var jobState: JobState
    var itemCount, finishedCount, failedCount, nextSequence: Int64

    func state(for lease: ChunkLease) -> LeaseState {
        LeaseState(
            chunkHeld: state == "leased" && fence == lease.fence && owner == lease.owner, jobState: jobState,
            itemCount: itemCount, finishedCount: finishedCount, failedCount: failedCount, nextSequence: nextSequence)
    }
}
