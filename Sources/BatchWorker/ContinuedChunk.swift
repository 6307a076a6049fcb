import BatchStore

/// A stream slot's next chunk of the job it is on, with its items as read in
/// the same call: `nil` items when the read failed (unknown, so the lease is
/// handed back rather than completed empty).
struct ContinuedChunk: Sendable {
    var lease: ChunkLease
    var items: [WorkItem]?
}
