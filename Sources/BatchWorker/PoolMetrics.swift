import BatchStore
import Metrics

/// What a daemon reports through swift-metrics (exported by `batchd
/// --metrics` in Prometheus' format): items done by outcome, items running,
/// how long a successful claim takes, and chunks taken back from daemons
/// that died or let their lease expire.
struct PoolMetrics: Sendable {
    let succeeded = Counter(label: "batch_items_done_total", dimensions: [("status", "succeeded")])
    let failed = Counter(label: "batch_items_done_total", dimensions: [("status", "failed")])
    let running = Meter(label: "batch_items_running")
    let claimDuration = Metrics.Timer(label: "batch_claim_duration_seconds")
    let leaseTakeovers = Counter(label: "batch_lease_takeovers_total")

    func recorded(_ outcome: ItemOutcome.Status) {
        switch outcome {
        case .succeeded: succeeded.increment()
        case .failed: failed.increment()
        }
    }
}
