import BatchStore
import Foundation

/// What the dashboard's pages read, as JSON: views of the store's rows.
/// Every string here is user data (commands, items, outputs): the pages
/// only ever put it in the document as text, never as markup.
enum DashboardViews {
    struct JobRow: Encodable {
        var id: Int64
        var state: String
        var command: [String]
        var items: Int64
        var succeeded: Int64
        var failed: Int64
        var running: Int
        var pending: Int64
        var inputComplete: Bool
        var createdAt: Date
        var finishedAt: Date?
        var ratePerSecond: Double?
        var etaSeconds: Double?
        var priority: Int
        var warning: String?
    }

    struct JobDetail: Encodable {
        var job: JobRow
        var workingDirectory: String
        var stream: Bool
        var chunkSize: String
        var retries: Int
        var maxRunning: String?
        var haltReason: String?
        /// Runtime percentiles of the latest 1,001 successes: p50, p90, p99, max.
        var runtimePercentiles: [Double]?
        var failures: [ItemRow]
        /// Completed results over the job's life: [milliseconds since the
        /// epoch, results completed by then], up to 61 points (on request).
        var history: [[Double]]?
    }

    struct ItemRow: Encodable {
        var line: Int64
        var input: String
        var status: String
        var attempts: Int?
        var seconds: Double?
        var output: String?
        var outputBytes: Int?
        var reason: String?
        var stderrTail: String?
        var sequence: Int64?
    }

    struct DaemonRow: Encodable {
        var id: String
        var host: String
        var pid: Int32
        var workers: Int
        var startedAt: Date
        var heartbeatAgeSeconds: Double
        var chunks: [String]
    }

    /// Outputs shown in lists are cut here; the item's page shows it whole.
    static let previewBytes = 200

    static func text(_ data: Data, limit: Int? = nil) -> String {
        let cut = limit.map { data.prefix($0) } ?? data
        return String(decoding: cut, as: UTF8.self)
    }

    static func row(_ job: Job, running: Int, rate: Double?) -> JobRow {
        let eta = rate.flatMap { $0 > 0 && job.state.isRunnable ? Double(job.pendingCount) / $0 : nil }
        return JobRow(
            id: job.id.rawValue, state: job.state.rawValue, command: job.spec.command, items: job.itemCount,
            succeeded: job.succeededCount, failed: job.failedCount, running: running,
            pending: max(0, job.pendingCount - Int64(running)), inputComplete: job.state != .open,
            createdAt: job.createdAt, finishedAt: job.finishedAt, ratePerSecond: rate, etaSeconds: eta,
            priority: job.spec.priority, warning: job.warning)
    }

    static func item(_ result: ItemResult, input: Data?, full: Bool) -> ItemRow {
        let outcome = result.outcome
        return ItemRow(
            line: result.line, input: text(input ?? Data(), limit: full ? nil : previewBytes),
            status: outcome.status == .succeeded ? "succeeded" : "failed", attempts: result.attempts,
            seconds: outcome.duration, output: text(outcome.output, limit: full ? nil : previewBytes),
            outputBytes: outcome.output.count, reason: outcome.reason,
            stderrTail: outcome.errorOutput.isEmpty ? nil : text(outcome.errorOutput.suffix(full ? 65536 : 400)),
            sequence: result.sequence)
    }
}
