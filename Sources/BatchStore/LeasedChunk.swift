/// A chunk held under a lease, as `batch status` and `batch daemon status`
/// show it and as a daemon's upkeep checks its owner.
public struct LeasedChunk: Sendable, Hashable {
    /// The daemon holding it (`DaemonRecord.id`).
    public var owner: String
    public var job: JobID
    public var firstLine: Int64
    public var lastLine: Int64

    public init(owner: String, job: JobID, firstLine: Int64, lastLine: Int64) {
        self.owner = owner
        self.job = job
        self.firstLine = firstLine
        self.lastLine = lastLine
    }
}
