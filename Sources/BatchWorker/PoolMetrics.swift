import BatchStore
import Metrics

/// What a daemon reports through swift-metrics (exported by `batchd
/// --metrics` in Prometheus' format): items done by outcome, items running,
/// how long a successful claim takes, and chunks taken back from daemons
/// that died or let their lease expire.
public struct PoolMetrics: Sendable {
    let succeeded = Counter(label: "batch_items_done_total", dimensions: [("status", "succeeded")])
    let failed = Counter(label: "batch_items_done_total", dimensions: [("status", "failed")])
    let running = Meter(label: "batch_items_running")
    let claimDuration = Metrics.Timer(label: "batch_claim_duration_seconds")
    let leaseTakeovers = Counter(label: "batch_lease_takeovers_total")
    let itemDuration = Metrics.Timer(label: "batch_item_duration_seconds")

    /// The help line of each metric, by name: `batchd` exports them as
    /// Prometheus' `# HELP` lines.
    public static let help: [String: String] = [
        "batch_items_done_total": "Items whose final result this daemon recorded, by status.",
        "batch_items_running": "Items this daemon runs now.",
        "batch_claim_duration_seconds": "How long a claim of a chunk that found work took.",
        "batch_lease_takeovers_total": "Chunks this daemon took back from daemons that died or let their lease expire.",
        "batch_item_duration_seconds": "How long the items this daemon recorded ran (their last attempt).",
    ]

    func recorded(_ outcome: ItemOutcome) {
        switch outcome.status {
        case .succeeded: succeeded.increment()
        case .failed: failed.increment()
        }
        itemDuration.recordNanoseconds(Int64(max(0, outcome.duration) * 1e9))
    }
}
