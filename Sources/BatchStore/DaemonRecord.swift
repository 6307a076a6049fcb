import Foundation

/// A daemon serving a store, as it registered itself.
///
/// `host`, `pid` and `processStart` identify the process: a daemon finding a
/// record of its own host whose process is gone (or whose pid now belongs to
/// a process started at another time) knows that daemon is dead and takes its
/// chunks back at once, without waiting for leases to expire.
public struct DaemonRecord: Sendable, Hashable {
    public var id: String
    public var host: String
    public var pid: Int32
    /// The process's start time as the kernel counts it (clock ticks since
    /// boot on Linux); guards against a reused pid.
    public var processStart: Int64
    public var workers: Int
    public var startedAt: Date
    public var heartbeatAt: Date
    /// The uid it runs as: it runs only that uid's jobs. `nil` in a record of
    /// a release before uids were recorded.
    public var uid: UInt32?
    /// Where its pid means something (`Machine.id`); `nil` in older records.
    public var machineID: String?
    /// Its release (`BatchVersion.number`); `nil` in records of releases
    /// before 0.1.0 recorded it.
    public var version: String?

    public init(
        id: String, host: String, pid: Int32, processStart: Int64, workers: Int, startedAt: Date,
        heartbeatAt: Date, uid: UInt32? = nil, machineID: String? = nil, version: String? = nil
    ) {
        self.version = version
        self.uid = uid
        self.machineID = machineID
        self.id = id
        self.host = host
        self.pid = pid
        self.processStart = processStart
        self.workers = workers
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }
}

extension DaemonRecord {
    public var machine: Machine { Machine(host: host, id: machineID) }

    /// Whether the daemon is alive as seen from `machine`: where its pid
    /// means something, its process is running (pid and start time);
    /// elsewhere, it beat within `heartbeatWithin` seconds.
    public func isAlive(seenFrom machine: Machine = .current, now: Date, heartbeatWithin: TimeInterval) -> Bool {
        self.machine.sharesPids(with: machine)
            ? ProcessIdentity.isAlive(pid: pid, start: processStart)
            : now.timeIntervalSince(heartbeatAt) < heartbeatWithin
    }
}
