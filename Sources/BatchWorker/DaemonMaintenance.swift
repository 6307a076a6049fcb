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
/// - A daemon of another host is presumed dead only when its leases expire;
///   expired chunks are handed back by whichever daemon notices first.
/// - With `idleExit`, the service ends (and with it the daemon, gracefully)
///   after no job has been open or sealed for that long.
public struct DaemonMaintenance: Service {
    let store: any BatchStore
    let record: DaemonRecord
    let leaseDuration: TimeInterval
    let interval: Duration
    let idleExit: TimeInterval?
    let logger: Logger
    let faults: StoreFaultLog
    let metrics = PoolMetrics()

    public init(
        store: any BatchStore, record: DaemonRecord, leaseDuration: TimeInterval, interval: Duration = .seconds(1),
        idleExit: TimeInterval?, logger: Logger, faults: StoreFaultLog? = nil
    ) {
        self.store = store
        self.record = record
        self.leaseDuration = leaseDuration
        self.interval = interval
        self.idleExit = idleExit
        self.logger = logger
        self.faults = faults ?? StoreFaultLog(logger: logger)
    }

    public func run() async throws {
        var idleSince: Date?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let now = Date()
            let runnable = runOnce(now: now)
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
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// One round of upkeep. Returns whether any job is runnable (`nil` when
    /// the store could not tell).
    @discardableResult
    public func runOnce(now: Date) -> Bool? {
        do {
            if try !store.daemonHeartbeat(id: record.id, now: now) {
                logger.warning("this daemon's record was removed by another daemon; registering again")
                var fresh = record
                fresh.heartbeatAt = now
                try store.daemonRegister(fresh)
            }
            _ = try store.chunksRenewLeases(owner: record.id, now: now, leaseDuration: leaseDuration)
            for other in try store.daemonsList() where other.id != record.id {
                guard !other.isAlive(seenFrom: record.host, now: now, heartbeatWithin: 2 * leaseDuration) else { continue }
                let released = try store.daemonDeleteReleasingChunks(id: other.id)
                metrics.leaseTakeovers.increment(by: released)
                logger.notice("daemon pid \(other.pid) on \(other.host) is gone: took back \(released) chunk(s)")
            }
            let expired = try store.chunksReleaseExpired(now: now)
            if expired > 0 {
                metrics.leaseTakeovers.increment(by: expired)
                logger.notice("handed back \(expired) chunk(s) whose lease expired")
            }
            let runnable = try store.jobsRunnableExist()
            faults.succeeded()
            return runnable
        } catch {
            faults.failed("maintaining leases", error)
            return nil
        }
    }
}
