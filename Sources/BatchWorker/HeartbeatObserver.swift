import BatchStore
import Foundation
import Synchronization

/// Tells a daemon that stopped beating from one that beats, on the
/// observer's own monotonic clock: a daemon is stale once its recorded
/// heartbeat has not changed for a whole lease, as this process measures
/// time. Only whether the value changes counts, never the value itself, so
/// daemons whose wall clocks disagree (by hours, or stepped by NTP) never
/// mistake each other for dead (issue 19: a daemon with its clock two hours
/// ahead took live leases from a healthy one). A daemon frozen by SIGSTOP,
/// or cut off from the store, stops changing its heartbeat and goes stale.
final class HeartbeatObserver: Sendable {
    private struct Seen {
        var heartbeat: Date
        var changedAt: ContinuousClock.Instant
    }

    private let seen = Mutex<[String: Seen]>([:])

    /// Whether `daemon`'s heartbeat has not changed for `lease` (a daemon seen
    /// for the first time gets a whole lease from now).
    func isStale(_ daemon: DaemonRecord, lease: TimeInterval, now: ContinuousClock.Instant = .now) -> Bool {
        seen.withLock { seen in
            if let last = seen[daemon.id], last.heartbeat == daemon.heartbeatAt {
                return now - last.changedAt > .seconds(lease)
            }
            seen[daemon.id] = Seen(heartbeat: daemon.heartbeatAt, changedAt: now)
            return false
        }
    }

    /// Forgets daemons that are no longer recorded.
    func keep(only ids: Set<String>) {
        seen.withLock { seen in seen = seen.filter { ids.contains($0.key) } }
    }
}
