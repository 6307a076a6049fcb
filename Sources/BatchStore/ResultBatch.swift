/// Results for items of one lease's range, recorded together: a part of a
/// group commit (`BatchStore.resultsRecordIfLeasesHeld`).
public struct ResultBatch: Sendable {
    public var lease: ChunkLease
    public var results: [ItemRecord]
    /// The writer asserts that with these it has recorded every item of the
    /// lease's range: the chunk is marked done in the same transaction.
    public var completesChunk: Bool

    public init(
        lease: ChunkLease, results: [ItemRecord], completesChunk: Bool
    ) {
        self.lease = lease
        self.results = results
        self.completesChunk = completesChunk
    }
}
