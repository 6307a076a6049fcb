import BatchStore
import Foundation

/// The store reads behind each page: paged, on indexes (a page of a job of
/// ten million items reads its page, never the job).
struct DashboardQueries: Sendable {
    let store: any BatchStore

    func jobs(limit: Int, states: Set<JobState>?, before: JobID?) throws -> [DashboardViews.JobRow] {
        let jobs = try store.jobsList(limit: limit, states: states, before: before)
        let running = try runningCounts()
        return try jobs.map { job in
            try DashboardViews.row(job, running: running[job.id] ?? 0, rate: rate(of: job))
        }
    }

    /// Items finished per second over the last minute, for a running job.
    func rate(of job: Job) throws -> Double? {
        guard job.state.isRunnable else { return nil }
        let since = Date().addingTimeInterval(-60)
        let window = min(60, max(1, Date().timeIntervalSince(job.createdAt)))
        return Double(try store.resultsCount(job: job.id, finishedSince: since)) / window
    }

    /// Leased lines per job: what runs now.
    func runningCounts() throws -> [JobID: Int] {
        try store.chunksLeasedList().reduce(into: [:]) { counts, chunk in
            counts[chunk.job, default: 0] += Int(chunk.lastLine - chunk.firstLine + 1)
        }
    }

    func job(_ id: JobID, history: Bool = false) throws -> DashboardViews.JobDetail? {
        guard let job = try store.jobFetch(id) else { return nil }
        let failures = try store.resultsFailed(job: id, limit: 50)
        let inputs = try store.itemsFetch(job: id, lines: failures.map(\.line))
        let maxRunning: String? = job.spec.maxRunning.map { "\($0)" }
        let percentiles = Self.percentiles(try store.resultsRecentDurations(job: id, limit: 1001))
        return DashboardViews.JobDetail(
            job: DashboardViews.row(job, running: try runningCounts()[id] ?? 0, rate: try rate(of: job)),
            workingDirectory: job.spec.workingDirectory, stream: job.spec.stream, chunkSize: "\(job.spec.chunkSize)",
            retries: job.spec.retries, maxRunning: maxRunning, haltReason: job.haltReason,
            runtimePercentiles: percentiles,
            failures: failures.map { DashboardViews.item($0, input: inputs[$0.line], full: false) },
            history: history ? try self.history(of: job) : nil)
    }

    /// The job's throughput over its whole life, for the chart: when the
    /// results numbered 1, n/60, 2n/60, ... n in completion order finished
    /// (61 index seeks, the same for ten items or ten million).
    func history(of job: Job) throws -> [[Double]] {
        let total = job.finishedCount
        guard total > 0 else { return [] }
        let sequences = Array(Set([1] + (1...60).map { max(1, total * Int64($0) / 60) })).sorted()
        let times = try store.resultsFinishTimes(job: job.id, sequences: sequences)
        return sequences.compactMap { sequence in
            times[sequence].map { [($0.timeIntervalSince1970 * 1000).rounded(), Double(sequence)] }
        }
    }

    /// p50, p90, p99 and the maximum; nil without any.
    static func percentiles(_ durations: [Double]) -> [Double]? {
        guard !durations.isEmpty else { return nil }
        let sorted = durations.sorted()
        return [0.5, 0.9, 0.99].map { sorted[min(sorted.count - 1, Int(Double(sorted.count) * $0))] } + [sorted.last!]
    }

    /// A page of a job's items: in input order from `after` (results or
    /// not), or in completion order from sequence `after` (results only).
    func items(_ id: JobID, completionOrder: Bool, after: Int64, limit: Int) throws -> [DashboardViews.ItemRow] {
        guard let job = try store.jobFetch(id) else { return [] }
        if completionOrder {
            let results = try store.resultsBySequence(job: id, afterSequence: after, limit: limit)
            let inputs = try store.itemsFetch(job: id, lines: results.map(\.line))
            return results.map { DashboardViews.item($0, input: inputs[$0.line], full: false) }
        }
        let last = min(job.itemCount, after + Int64(limit))
        guard last > after else { return [] }
        let lines = Array((after + 1)...last)
        let inputs = try store.itemsFetch(job: id, lines: lines)
        let results = Dictionary(
            try store.resultsByLine(job: id, afterLine: after, limit: limit).map { ($0.line, $0) }, uniquingKeysWith: { a, _ in a })
        let leased = try store.chunksLeasedList().filter { $0.job == id }
        return lines.map { line in
            if let result = results[line] { return DashboardViews.item(result, input: inputs[line], full: false) }
            let running = leased.contains { $0.firstLine <= line && line <= $0.lastLine }
            return DashboardViews.ItemRow(
                line: line, input: DashboardViews.text(inputs[line] ?? Data(), limit: DashboardViews.previewBytes),
                status: running ? "running" : (job.state.isRunnable ? "pending" : "not run"))
        }
    }

    /// One item whole: its input, output and stderr.
    func item(_ id: JobID, line: Int64) throws -> DashboardViews.ItemRow? {
        guard let input = try store.itemFetch(job: id, line: line) else { return nil }
        if let result = try store.resultsByLine(job: id, afterLine: line - 1, limit: 1).first, result.line == line {
            return DashboardViews.item(result, input: input, full: true)
        }
        return DashboardViews.ItemRow(line: line, input: DashboardViews.text(input), status: "pending")
    }

    func daemons() throws -> [DashboardViews.DaemonRow] {
        let now = (try? store.storageClock()) ?? Date()
        let chunks = try store.chunksLeasedList()
        return try store.daemonsList().map { daemon in
            DashboardViews.DaemonRow(
                id: daemon.id, host: daemon.host, pid: daemon.pid, workers: daemon.workers, startedAt: daemon.startedAt,
                heartbeatAgeSeconds: now.timeIntervalSince(daemon.heartbeatAt),
                chunks: chunks.filter { $0.owner == daemon.id }.map { "job \($0.job): lines \($0.firstLine)-\($0.lastLine)" })
        }
    }
}
