import Foundation

/// What a job runs and how: recorded once, when the job is created.
///
/// The working directory and environment are those of the submitter, so that
/// `batch run -- ./script.sh` behaves as it would in the submitter's shell
/// whichever daemon runs it.
public struct JobSpec: Sendable, Hashable {
    /// The command and its arguments. Each `{}` in an argument is replaced by
    /// the item; with no `{}` anywhere the item is appended as the last
    /// argument.
    public var command: [String]
    public var workingDirectory: String
    /// `NAME=value` entries, as bytes (the environment need not be UTF-8).
    public var environment: [Data]
    public var chunkSize: ChunkSizePolicy
    /// Items are separated by a NUL byte instead of a newline.
    public var nulSeparated: Bool

    public init(
        command: [String],
        workingDirectory: String,
        environment: [Data],
        chunkSize: ChunkSizePolicy = .auto,
        nulSeparated: Bool = false
    ) {
        self.command = command
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.chunkSize = chunkSize
        self.nulSeparated = nulSeparated
    }
}
