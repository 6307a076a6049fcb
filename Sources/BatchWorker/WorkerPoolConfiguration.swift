import Foundation

/// How a daemon's worker pool behaves.
public struct WorkerPoolConfiguration: Sendable {
    /// The daemon's id: the owner of its leases.
    public var owner: String
    public var workers: Int
    /// How long a lease lasts without renewal; renewed by `DaemonMaintenance`.
    public var leaseDuration: TimeInterval
    /// On graceful shutdown, how long running items may take to finish before
    /// they are killed and handed back.
    public var grace: Duration
    /// Idle workers poll for work, backing off from the first to the second.
    public var pollInterval: ClosedRange<Double>
    /// How often a lease's watcher checks, while its items run, that the job
    /// is still running and the lease still held.
    public var watchInterval: Duration
    /// A stream process that has not answered an item for this long (and
    /// ten times the job's median runtime) gets one warning in the log: it
    /// probably drops or buffers lines.
    public var streamAnswerWarning: TimeInterval
    /// How often the pool compares the chunks it holds in the store with the
    /// ones its slots work on (a chunk with no worker is handed back at the
    /// second audit that finds it).
    public var auditInterval: Duration = .seconds(5)
    /// The longest an idle slot sleeps on the store's change feed when no
    /// job is runnable (a commit wakes it sooner); the bound for a store
    /// whose changes cannot be watched (another host's writes to a network
    /// file system).
    public var idleWait: TimeInterval = 5
    /// Which jobs' commands this daemon runs (`batchd --allow`); all by default.
    public var admission: JobAdmission = .everything
    /// How the daemon names itself in what it records on a job (`batch status`).
    public var displayName = "batchd"

    /// Where the pool's loops report their passes (`batchd`'s watchdog and
    /// `/healthz` read it).
    public var liveness = LoopLiveness()
    /// Called once when graceful shutdown begins (`batchd` tells systemd
    /// `STOPPING=1`).
    public var onStopping: (@Sendable () -> Void)?

    public init(
        owner: String, workers: Int, leaseDuration: TimeInterval = 30, grace: Duration = .seconds(10),
        pollInterval: ClosedRange<Double> = 0.005...0.1, watchInterval: Duration = .milliseconds(200),
        streamAnswerWarning: TimeInterval = 30
    ) {
        self.streamAnswerWarning = streamAnswerWarning
        self.owner = owner
        self.workers = workers
        self.leaseDuration = leaseDuration
        self.grace = grace
        self.pollInterval = pollInterval
        self.watchInterval = watchInterval
    }
}
