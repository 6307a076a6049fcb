import BatchStore
import Foundation
import Logging
import ServiceLifecycle

/// The periodic upkeep of one daemon, apart from the worker loop: it keeps
/// the daemon's record and leases alive, and rescues work held by daemons
/// that died.
///
/// - A daemon of this host whose process is gone is dead for certain: its
///   record is removed and its chunks handed back at once, not after a lease
///   timeout. This also runs at start, so a daemon restarted after a crash
///   takes back its predecessor's work immediately.
/// - A daemon that stops beating (of another host, or frozen by SIGSTOP on
///   this one) is presumed dead once its heartbeat has not changed for a
///   whole lease, measured on this daemon's monotonic clock
///   (`HeartbeatObserver`); its chunks are handed back by whichever daemon
///   notices first. Wall clocks are never compared across daemons, so a
///   daemon with a wrong clock takes nobody's live leases. Chunks whose
///   owner has no record at all are handed back at once.
/// - With `idleExit`, the service ends (and with it the daemon, gracefully)
///   after no job has been open or sealed for that long.
/// - With `keep`, jobs that ended longer ago than that are deleted, at start
///   and every hour, so the database does not grow without bound. A job
///   that is open, sealed or running is never deleted.
public struct DaemonMaintenance: Service {
    let store: any BatchStore
    let record: DaemonRecord
    let leaseDuration: TimeInterval
    let interval: Duration
    let idleExit: TimeInterval?
    let keep: TimeInterval?
    let logger: Logger
    let faults: StoreFaultLog
    let metrics = PoolMetrics()
    let heartbeats = HeartbeatObserver()
    let liveness: LoopLiveness

    public init(
        store: any BatchStore, record: DaemonRecord, leaseDuration: TimeInterval, interval: Duration = .seconds(1),
        idleExit: TimeInterval?, keep: TimeInterval? = nil, logger: Logger, faults: StoreFaultLog? = nil,
        liveness: LoopLiveness = LoopLiveness()
    ) {
        self.liveness = liveness
        self.keep = keep
        self.store = store
        self.record = record
        self.leaseDuration = leaseDuration
        self.interval = interval
        self.idleExit = idleExit
        self.logger = logger
        self.faults = faults ?? StoreFaultLog(logger: logger)
    }

    /// The database file was deleted or moved while the daemon ran.
    public struct StoreMoved: Error, CustomStringConvertible {
        public var description: String
    }

    public func run() async throws {
        var idleSince: Date?
        var nextCleanup = ContinuousClock.now
        var nextBeat = ContinuousClock.now
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let now = Date()
            let beat = ContinuousClock.now >= nextBeat
            if beat { nextBeat = .now + beatInterval }
            if let keep, ContinuousClock.now >= nextCleanup {
                nextCleanup = .now + .seconds(3600)
                _ = try? await offloadedUntilCancelled { self.removeEndedJobs(olderThan: keep, now: now) }
            }
            guard store.storageStillAtLocation() else {
                // Its jobs are out of sight of every `batch` command: running them
                // on would be work nobody can see or stop.
                let message = "the database this daemon opened was deleted or moved away: stopping its work and exiting"
                logger.critical("\(message)")
                throw StoreMoved(description: message)
            }
            // On a thread of its own: a store blocked for its busy timeout must
            // not hold up the rest of the daemon (`offloaded`).
            let runnable = (try? await cancelWhenGracefulShutdown { try await offloadedUntilCancelled { self.liveness.pass("maintenance") { self.runOnce(now: self.clockNow(), beat: beat) } } }) ?? nil
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            if runnable == false {
                // Idle: give the WAL's space back (the store skips a small one).
                let store = self.store
                do {
                    try await offloadedUntilCancelled { try store.storageTruncateLog() }
                } catch {
                    faults.failed("truncating the write-ahead log", error)
                }
            }
            if let idleExit {
                if runnable == false {
                    idleSince = idleSince ?? now
                    if now.timeIntervalSince(idleSince!) >= idleExit {
                        logger.info("no work for \(Int(idleExit)) s: exiting")
                        return
                    }
                } else if runnable == true {
                    idleSince = nil
                }
            }
            // With no job runnable there is nothing to rescue and nothing to
            // renew: look again at the next beat, not every second. On a
            // server, the daemons of other hosts are rescued by lease expiry,
            // not by a look at their pids: every round is a beat, one round
            // trip counted against every client of the server.
            var pause = runnable == false || !pidsCanBeChecked ? beatInterval : interval
            if let idleExit, let idleSince {
                // No later than the idle exit is due.
                let left = idleExit - Date().timeIntervalSince(idleSince)
                pause = min(pause, max(interval, .milliseconds(Int(max(0, left) * 1000))))
            }
            try? await cancelWhenGracefulShutdown { [pause] in try await Task.sleep(for: pause) }
        }
    }

    /// The store's clock (leases and heartbeats are written on it); this
    /// host's when the store cannot tell now (the fault is logged).
    func clockNow() -> Date {
        do {
            return try store.storageClock()
        } catch {
            faults.failed("reading the store's clock", error)
            return Date()
        }
    }

    /// Deletes the jobs that ended more than `age` ago (`--keep`).
    func removeEndedJobs(olderThan age: TimeInterval, now: Date) {
        do {
            let removed = try store.jobsDeleteEnded(before: now.addingTimeInterval(-age))
            if !removed.isEmpty {
                logger.info("removed \(removed.count) job(s) that ended more than \(DurationText.describe(age)) ago (--keep)")
            }
        } catch {
            faults.failed("removing old jobs", error)
        }
    }

    /// Whether dead daemons may be found by their pids: on a file, whose
    /// daemons share this host; not on a server.
    var pidsCanBeChecked: Bool {
        if case .file = store.location { return true }
        return false
    }

    /// How often the daemon writes its heartbeat and renews its leases: a
    /// sixth of a lease, at most 5 s (others presume it dead after a whole
    /// lease without a beat, and `batch daemon status` after 10 s), and not
    /// every round: each write wakes every idle follower and daemon.
    var beatInterval: Duration {
        max(interval, .milliseconds(Int(min(5, leaseDuration / 6) * 1000)))
    }

    /// One round of upkeep: with `beat`, the heartbeat and lease renewals
    /// too. Returns whether any job is runnable (`nil` when the store could
    /// not tell).
    @discardableResult
    public func runOnce(now: Date, beat: Bool = true) -> Bool? {
        do {
            if beat, try !store.daemonHeartbeat(id: record.id, now: now) {
                logger.warning("this daemon's record was removed by another daemon; registering again")
                var fresh = record
                fresh.heartbeatAt = now
                try store.daemonRegister(fresh)
            }
            if beat { _ = try store.chunksRenewLeases(owner: record.id, now: now, leaseDuration: leaseDuration) }
            let others = try store.daemonsList().filter { $0.id != record.id }
            heartbeats.keep(only: Set(others.map(\.id)))
            for other in others {
                if other.machine.sharesPids(with: record.machine), !ProcessIdentity.isAlive(pid: other.pid, start: other.processStart) {
                    let released = try store.daemonDeleteReleasingChunks(id: other.id)
                    metrics.leaseTakeovers.increment(by: released)
                    // Its commands were re-parented to init and would run on beside
                    // the items' next runs: end them (found by their marker).
                    let killed = OrphanReaper.killCommands(ofDaemon: other.pid, start: other.processStart)
                    logger.notice("daemon pid \(other.pid) on \(other.host) is gone: took back \(released) chunk(s)\(killed > 0 ? ", killed \(killed) process(es) it left running" : "")", metadata: ["pid": "\(other.pid)", "host": "\(other.host)"])
                } else if !other.machine.sharesPids(with: record.machine), heartbeats.isStale(other, lease: 10 * leaseDuration) {
                    // Silent for ten leases on another host: its record goes too.
                    let released = try store.daemonDeleteReleasingChunks(id: other.id)
                    metrics.leaseTakeovers.increment(by: released)
                    logger.notice("daemon pid \(other.pid) on \(other.host) has not beaten for \(Int(10 * leaseDuration)) s: removed its record", metadata: ["pid": "\(other.pid)", "host": "\(other.host)"])
                } else if heartbeats.isStale(other, lease: leaseDuration) {
                    // Frozen, cut off or dead on another host: its leases are taken
                    // (a fenced take-over: should it wake up, it records nothing more).
                    let released = try store.chunksReleaseOwned(owner: other.id)
                    if released > 0 {
                        metrics.leaseTakeovers.increment(by: released)
                        logger.notice("daemon pid \(other.pid) on \(other.host) has not beaten for \(Int(leaseDuration)) s: took back \(released) chunk(s)", metadata: ["pid": "\(other.pid)", "host": "\(other.host)"])
                    }
                }
            }
            let recorded = Set(others.map(\.id) + [record.id])
            for owner in Set(try store.chunksLeasedList().map(\.owner)) where !recorded.contains(owner) {
                let released = try store.chunksReleaseOwned(owner: owner)
                metrics.leaseTakeovers.increment(by: released)
                if released > 0 { logger.notice("handed back \(released) chunk(s) of a daemon with no record") }
            }
            var runnable = try store.jobsRunnableExist()
            if runnable, idleExit != nil {
                // An open job whose submitter is gone, with nothing left to run,
                // waits for a `submit --resume` that may never come: it must not
                // keep an autostarted daemon alive for ever.
                runnable = try store.jobsList(limit: 1000, states: [.open, .sealed]).contains {
                    $0.state == .sealed || $0.pendingCount > 0 || !$0.inputInterrupted(seenFrom: record.machine)
                }
            }
            faults.succeeded("maintaining leases")
            return runnable
        } catch {
            faults.failed("maintaining leases", error)
            return nil
        }
    }
}
