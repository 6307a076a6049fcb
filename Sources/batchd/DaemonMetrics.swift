import BatchStore
import BatchWorker
import Foundation
import Prometheus
import Synchronization

/// What `/metrics` shows beyond the pool's own counters: the store's backlog
/// (`StoreBacklog`: the same on every daemon of a database, so never to be
/// summed), the build, and the standard `process_*` metrics. Refreshed on
/// every scrape; the backlog is read from counters and leased chunks, never
/// by counting item rows, so a scrape stays cheap with millions of items
/// waiting (the benchmark's scrape row).
final class DaemonMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let store: any BatchStore
    private let pending: Gauge
    private let running: Gauge
    private let oldest: Gauge
    private let reachable: Gauge
    private let jobs: [JobState: Gauge]
    private let cpu: Counter
    private let resident: Gauge
    private let virtual: Gauge
    private let descriptors: Gauge
    private let maxDescriptors: Gauge
    private let started: Gauge
    /// The CPU time reported so far (the counter grows by the difference).
    private let reportedCPU = Mutex<Double>(0)

    init(registry: PrometheusCollectorRegistry, store: any BatchStore) {
        self.registry = registry
        self.store = store
        let items = "Items of the store's open and sealed jobs, by state; the same on every daemon of one database."
        pending = registry.makeGauge(name: "batch_items", labels: [("state", "pending")], help: items)
        running = registry.makeGauge(name: "batch_items", labels: [("state", "running")], help: items)
        oldest = registry.makeGauge(
            name: "batch_oldest_pending_seconds",
            help: "Seconds since the oldest job that still has items waiting for a daemon was submitted (0: none waits).")
        reachable = registry.makeGauge(
            name: "batch_store_up", help: "1 when the store answered the last scrape's backlog query within 5 s, else 0.")
        jobs = Dictionary(uniqueKeysWithValues: JobState.allCases.map { state in
            (state, registry.makeGauge(name: "batch_jobs", labels: [("state", state.rawValue)], help: "Jobs in the store, by state."))
        })
        registry.makeGauge(
            name: "batch_build_info", labels: [("version", BatchVersion.number), ("commit", BatchVersion.commit ?? "unknown")],
            help: "The release and commit of this batchd (always 1).").set(1.0)
        cpu = registry.makeCounter(name: "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.")
        resident = registry.makeGauge(name: "process_resident_memory_bytes", help: "Resident memory size in bytes.")
        virtual = registry.makeGauge(name: "process_virtual_memory_bytes", help: "Virtual memory size in bytes.")
        descriptors = registry.makeGauge(name: "process_open_fds", help: "Number of open file descriptors.")
        maxDescriptors = registry.makeGauge(name: "process_max_fds", help: "Maximum number of open file descriptors.")
        started = registry.makeGauge(
            name: "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.")
    }

    /// The exposition text, with every gauge brought up to date.
    func scrape() async -> [UInt8] {
        let store = self.store
        switch await offloaded(within: .seconds(5), { try store.storeBacklog(now: try store.storageClock()) }) {
        case .success(let backlog)?:
            pending.set(Double(backlog.pendingItems))
            running.set(Double(backlog.runningItems))
            oldest.set(backlog.oldestPendingSeconds)
            for (state, gauge) in jobs { gauge.set(Double(backlog.jobs[state] ?? 0)) }
            reachable.set(1.0)
        case .failure?, nil:
            reachable.set(0.0)
        }
        if let stats = ProcessStats.current() {
            let increase = reportedCPU.withLock { reported in
                defer { reported = max(reported, stats.cpuSeconds) }
                return max(0, stats.cpuSeconds - reported)
            }
            cpu.increment(by: increase)
            resident.set(stats.residentBytes)
            virtual.set(stats.virtualBytes)
            descriptors.set(stats.openDescriptors)
            maxDescriptors.set(stats.maxDescriptors)
            started.set(stats.startTimeSeconds)
        }
        return registry.emitToBuffer()
    }
}
