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
    /// (As text for display: bytes that are not UTF-8 are replaced here;
    /// `argumentBytes` has them exactly.)
    public var command: [String]
    public var workingDirectory: String
    /// The command's arguments exactly as given, bytes that are not UTF-8
    /// included (a Latin-1 file name): what runs.
    public var argumentBytes: [[UInt8]]
    /// The working directory exactly, as bytes: where it runs.
    public var workingDirectoryBytes: [UInt8]
    /// `NAME=value` entries, as bytes (the environment need not be UTF-8).
    public var environment: [Data]
    public var chunkSize: ChunkSizePolicy
    /// Items are separated by a NUL byte instead of a newline.
    public var nulSeparated: Bool
    /// How many times a failed item is run again (0: never).
    public var retries: Int
    /// The base delay before a retry, in seconds: the n-th retry waits about
    /// `retryDelay * 2^(n-1)` (with jitter, at most 5 minutes).
    public var retryDelay: Double
    public var timeout: ItemTimeout?
    /// The largest output (stdout) an item may produce, in bytes; past it the
    /// command is stopped and the item fails.
    public var maxOutput: Int
    public var halt: HaltPolicy?
    /// Stream mode: one long-lived process per worker slot reads items on its
    /// stdin and writes exactly one output line per item, in order, instead of
    /// one process per item.
    public var stream: Bool
    /// At most this many of the job's commands run at once, across every
    /// daemon serving the store (`-j`); `nil`: as many as the daemons' workers.
    public var maxRunning: RunningLimit?
    /// Several consecutive items per command run (`-n`, `-X`); `nil`: one
    /// item per run.
    public var grouping: ItemGrouping?
    /// The replacement string that stands for the item (`-I`); `{}` when nil.
    public var itemToken: [UInt8]?
    /// The regular expression that splits an item into the columns `{1}`,
    /// `{2}`, … (`--colsep`); without it `{1}` is the whole item.
    public var columnSeparator: String?
    /// Higher runs first (`--priority`); within a priority, workers are
    /// shared fairly (`FairShare`). Changed later by `batch priority`.
    public var priority: Int
    /// The job's share of workers against equal jobs (`--weight`, 1 by default).
    public var weight: Double
    /// How fast its items may start, across every daemon (`--rate`).
    public var rate: RateLimit?

    public static let defaultMaxOutput = 16 << 20

    /// How long to wait before the run that follows failed run number
    /// `attempt` (from 1): `retryDelay` doubled per attempt, at most 5
    /// minutes, with ±50% jitter so that items failing together do not retry
    /// together.
    public func retryDelay(after attempt: Int) -> Double {
        min(300, retryDelay * pow(2, Double(attempt - 1))) * Double.random(in: 0.5...1.5)
    }

    public init(
        command: [String],
        workingDirectory: String,
        environment: [Data],
        chunkSize: ChunkSizePolicy = .auto,
        nulSeparated: Bool = false,
        retries: Int = 0,
        retryDelay: Double = 1,
        timeout: ItemTimeout? = nil,
        maxOutput: Int = JobSpec.defaultMaxOutput,
        halt: HaltPolicy? = nil,
        stream: Bool = false,
        argumentBytes: [[UInt8]]? = nil,
        workingDirectoryBytes: [UInt8]? = nil,
        maxRunning: RunningLimit? = nil,
        grouping: ItemGrouping? = nil,
        itemToken: [UInt8]? = nil,
        columnSeparator: String? = nil,
        priority: Int = 0,
        weight: Double = 1,
        rate: RateLimit? = nil
    ) {
        self.priority = priority
        self.weight = weight
        self.rate = rate
        self.maxRunning = maxRunning
        self.grouping = grouping
        self.itemToken = itemToken
        self.columnSeparator = columnSeparator
        self.stream = stream
        self.command = command
        self.workingDirectory = workingDirectory
        self.argumentBytes = argumentBytes ?? command.map { Array($0.utf8) }
        self.workingDirectoryBytes = workingDirectoryBytes ?? Array(workingDirectory.utf8)
        self.environment = environment
        self.chunkSize = chunkSize
        self.nulSeparated = nulSeparated
        self.retries = retries
        self.retryDelay = retryDelay
        self.timeout = timeout
        self.maxOutput = maxOutput
        self.halt = halt
    }
}
