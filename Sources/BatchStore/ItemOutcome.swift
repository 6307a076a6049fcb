import Foundation

/// What running one item produced: recorded as that item's result.
public struct ItemOutcome: Sendable, Hashable {
    public enum Status: String, Sendable, Codable {
        case succeeded
        case failed
    }

    public var status: Status
    /// The command's exit status, when it exited (rather than being killed).
    public var exitStatus: Int32?
    /// The signal that killed the command, when one did.
    public var signal: Int32?
    /// The command's standard output: the item's result.
    public var output: Data
    /// The command's standard error; kept for failed items only.
    public var errorOutput: Data
    /// A short explanation of a failure that is not the command's own
    /// (for example "cannot run 'x': No such file or directory").
    public var reason: String?
    public var startedAt: Date
    public var finishedAt: Date
    /// The lines of the group this item ran in (`-n`, `-X`): the outcome is
    /// the group's, and only the group's first item holds its output.
    public var group: ClosedRange<Int64>?

    public init(
        status: Status, exitStatus: Int32? = nil, signal: Int32? = nil, output: Data = Data(),
        errorOutput: Data = Data(), reason: String? = nil, startedAt: Date, finishedAt: Date,
        group: ClosedRange<Int64>? = nil
    ) {
        self.group = group
        self.status = status
        self.exitStatus = exitStatus
        self.signal = signal
        self.output = output
        self.errorOutput = errorOutput
        self.reason = reason
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    /// The duration the item ran, in seconds.
    public var duration: TimeInterval { finishedAt.timeIntervalSince(startedAt) }
}
