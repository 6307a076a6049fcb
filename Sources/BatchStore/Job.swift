import Foundation

/// A job as stored: its spec, state, counts and timestamps.
public struct Job: Sendable, Hashable, Identifiable {
    public var id: JobID
    public var spec: JobSpec
    public var state: JobState
    /// Items stored so far (all of them once the job is sealed).
    public var itemCount: Int64
    /// Items with a recorded result, successful or failed.
    public var finishedCount: Int64
    /// Items whose recorded result is a failure.
    public var failedCount: Int64
    public var createdAt: Date
    public var sealedAt: Date?
    public var finishedAt: Date?
    /// Why the job failed, when its halt policy stopped it.
    public var haltReason: String?
    /// The uid that submitted the job: only a daemon of that uid runs it.
    /// `nil` for a job stored before the uid was recorded: it belongs to the
    /// owner of the database file.
    public var ownerUID: UInt32?
    /// The process storing the job's input (recorded at creation and by each
    /// `submit --resume`): while the job is open, whether it is still alive
    /// tells an input that is still arriving from one that was interrupted.
    public var submitter: ProcessIdentity?
    /// The last thing a daemon warned about this job (a stream process that
    /// never answers), and when; cleared by `batch retry`.
    public var warning: String?
    public var warningAt: Date?

    public init(
        id: JobID, spec: JobSpec, state: JobState, itemCount: Int64, finishedCount: Int64,
        failedCount: Int64, createdAt: Date, sealedAt: Date?, finishedAt: Date?, haltReason: String? = nil,
        ownerUID: UInt32? = nil, submitter: ProcessIdentity? = nil, warning: String? = nil, warningAt: Date? = nil
    ) {
        self.warning = warning
        self.warningAt = warningAt
        self.ownerUID = ownerUID
        self.submitter = submitter
        self.haltReason = haltReason
        self.id = id
        self.spec = spec
        self.state = state
        self.itemCount = itemCount
        self.finishedCount = finishedCount
        self.failedCount = failedCount
        self.createdAt = createdAt
        self.sealedAt = sealedAt
        self.finishedAt = finishedAt
    }

    /// Items stored and not yet finished.
    public var pendingCount: Int64 { itemCount - finishedCount }
    public var succeededCount: Int64 { finishedCount - failedCount }

    /// Open, with its submitter gone: no more input will arrive unless
    /// someone runs `batch submit --resume` (or ends it with `batch cancel`).
    /// Judged only for a submitter whose pid means something on `machine`.
    public func inputInterrupted(seenFrom machine: Machine = .current) -> Bool {
        guard state == .open, let submitter, submitter.machine.sharesPids(with: machine) else { return false }
        return !ProcessIdentity.isAlive(pid: submitter.pid, start: submitter.start)
    }

    /// Halted with `--halt soon`: items that were running may still record results.
    public var isDraining: Bool { state == .failed && spec.halt?.when == .soon }
}
