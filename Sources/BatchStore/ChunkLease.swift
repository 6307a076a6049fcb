import Foundation

/// A contiguous range of one job's items, leased to one daemon.
///
/// The lease is the daemon's right to record results for the range. Every
/// grant of a chunk (its first claim, and every take-over after its holder
/// died or its lease expired) increases the chunk's `fence`; the store records
/// a result only when the writer's fence is still the chunk's, so a stale
/// holder's late write is rejected and each item keeps exactly one result.
public struct ChunkLease: Sendable, Hashable {
    public var chunkID: Int64
    public var job: Job
    /// First and last input line of the range, inclusive.
    public var firstLine: Int64
    public var lastLine: Int64
    public var fence: Int64
    public var owner: String
    /// The job slot this chunk runs in, from 1: the smallest number free
    /// among the job's leased chunks when it was claimed (GNU parallel's
    /// `{%}`; within 1…N under `-j N`).
    public var slot: Int

    public init(chunkID: Int64, job: Job, firstLine: Int64, lastLine: Int64, fence: Int64, owner: String, slot: Int = 1) {
        self.slot = slot
        self.chunkID = chunkID
        self.job = job
        self.firstLine = firstLine
        self.lastLine = lastLine
        self.fence = fence
        self.owner = owner
    }

    public var lineCount: Int64 { lastLine - firstLine + 1 }
}

/// Whether a lease still entitles its holder to record results.
public enum LeaseStatus: Sendable, Hashable {
    case held
    /// The job halted with `--halt soon`: the item running now may finish and
    /// record its result, but nothing new may start.
    case draining
    /// Another daemon holds the chunk now, or it was handed back.
    case lost
    /// The job was cancelled (or otherwise ended): stop working on it.
    case jobEnded
}

/// What became of a result the worker tried to record.
public enum RecordOutcome: Sendable, Hashable {
    case recorded
    /// Recorded, but the job has ended (its halt policy was reached, perhaps by
    /// this very result): start nothing more for it.
    case recordedJobEnded
    /// The writer no longer holds the chunk: the result was not recorded.
    case leaseLost
    /// The job was cancelled: the result was not recorded.
    case jobEnded
}
