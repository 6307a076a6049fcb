import BatchStore
import Foundation

/// The JSON form of a job in `status --json` and `list --json` (a stable schema:
/// fields are only ever added).
struct JobSummary: Encodable {
    var id: Int64
    var state: String
    var command: [String]
    var workingDirectory: String
    /// Items stored so far; the total once `input_complete`.
    var items: Int64
    var inputComplete: Bool
    /// Open, and its submitter is gone: no input arrives until `submit --resume`.
    var inputInterrupted: Bool
    var finished: Int64
    var succeeded: Int64
    var failed: Int64
    var pending: Int64
    var createdAt: String
    var sealedAt: String?
    var finishedAt: String?
    /// Why the job failed, when its --halt policy stopped it.
    var haltReason: String?
    /// The last warning a daemon recorded about the job, and when.
    var warning: String?
    var warningAt: String?
    /// `-j`: at most this many of the job's commands at once ("4", or "50%" of the workers).
    var jobs: String?
    /// `-n N` ("N") or `-X` ("fit"): items per run of the command.
    var itemsPerRun: String?
    var priority: Int
    var weight: Double
    /// `--rate`, as "10/s", or nil.
    var rate: String?
    /// Of the commands running now for all runnable jobs, the fraction that are this job's.
    var share: Double?
    /// Why a runnable job with work to do runs nothing now, or nil.
    var waiting: String?
    // `status` only (absent from `list`):
    /// Items finished per second over the last minute.
    var ratePerSecond: Double?
    /// Seconds until every item is finished at that rate (a sealed job only).
    var etaSeconds: Double?
    /// Pids of the daemons holding chunks of the job now.
    var daemons: [Int32]?
    /// Items claimed by a daemon and not finished yet.
    var claimed: Int64?
    /// The job's commands running now (its leased chunks).
    var running: Int?
    /// Runs of the finished items (retries included).
    var attempts: Int64?
    /// Finished items that needed more than one run.
    var retried: Int64?
    /// The first failed items.
    var failures: [Failure]?

    struct Failure: Encodable {
        var line: Int64
        var reason: String
    }

    enum CodingKeys: String, CodingKey {
        case id, state, command, items, finished, succeeded, failed, pending
        case workingDirectory = "working_directory"
        case inputComplete = "input_complete"
        case inputInterrupted = "input_interrupted"
        case createdAt = "created_at"
        case sealedAt = "sealed_at"
        case finishedAt = "finished_at"
        case haltReason = "halt_reason"
        case warning
        case warningAt = "warning_at"
        case ratePerSecond = "rate_per_second"
        case etaSeconds = "eta_seconds"
        case daemons, failures, claimed, attempts, retried, jobs, running
        case itemsPerRun = "items_per_run"
        case priority, weight, rate, share, waiting
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(state, forKey: .state)
        try container.encode(command, forKey: .command)
        try container.encode(workingDirectory, forKey: .workingDirectory)
        try container.encode(items, forKey: .items)
        try container.encode(inputComplete, forKey: .inputComplete)
        try container.encode(inputInterrupted, forKey: .inputInterrupted)
        try container.encode(finished, forKey: .finished)
        try container.encode(succeeded, forKey: .succeeded)
        try container.encode(failed, forKey: .failed)
        try container.encode(pending, forKey: .pending)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(sealedAt, forKey: .sealedAt)
        try container.encode(finishedAt, forKey: .finishedAt)
        try container.encode(haltReason, forKey: .haltReason)
        try container.encode(warning, forKey: .warning)
        try container.encode(warningAt, forKey: .warningAt)
        try container.encode(jobs, forKey: .jobs)
        try container.encode(itemsPerRun, forKey: .itemsPerRun)
        try container.encodeIfPresent(running, forKey: .running)
        try container.encode(priority, forKey: .priority)
        try container.encode(weight, forKey: .weight)
        try container.encode(rate, forKey: .rate)
        try container.encode(share, forKey: .share)
        try container.encode(waiting, forKey: .waiting)
        try container.encodeIfPresent(ratePerSecond, forKey: .ratePerSecond)
        if daemons != nil { try container.encode(etaSeconds, forKey: .etaSeconds) }
        try container.encodeIfPresent(daemons, forKey: .daemons)
        try container.encodeIfPresent(failures, forKey: .failures)
        try container.encodeIfPresent(claimed, forKey: .claimed)
        try container.encodeIfPresent(attempts, forKey: .attempts)
        try container.encodeIfPresent(retried, forKey: .retried)
    }

    /// Adds what `status` shows beyond `list`: rate, ETA, daemons, first failures.
    mutating func addLiveFigures(from store: any BatchStore, job: Job, now: Date = Date()) throws {
        let rate = try store.finishRate(of: job, now: now)
        ratePerSecond = (rate * 100).rounded() / 100
        etaSeconds = job.state == .sealed && rate > 0 ? (Double(job.pendingCount) / rate).rounded() : nil
        let leased = try store.chunksLeasedList().filter { $0.job == job.id }
        running = leased.count
        let owners = Set(leased.map(\.owner))
        daemons = try store.daemonsList().filter { owners.contains($0.id) }.map(\.pid).sorted()
        (claimed, attempts, retried) = try store.itemCounts(job: job.id)
        failures = try store.resultsFailed(job: job.id, limit: 5).map {
            Failure(line: $0.line, reason: ResultPrinter.describeFailure($0.outcome))
        }
    }

    init(_ job: Job) {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        id = job.id.rawValue
        state = job.state.rawValue
        // Exact where the bytes are UTF-8, escaped (\xff) where they are not.
        command = job.spec.argumentBytes.map { String(validating: $0, as: UTF8.self) ?? Printable.text($0) }
        workingDirectory = String(validating: job.spec.workingDirectoryBytes, as: UTF8.self)
            ?? Printable.text(job.spec.workingDirectoryBytes)
        items = job.itemCount
        inputComplete = job.state != .open
        inputInterrupted = job.inputInterrupted()
        finished = job.finishedCount
        succeeded = job.succeededCount
        failed = job.failedCount
        pending = job.pendingCount
        createdAt = format.string(from: job.createdAt)
        sealedAt = job.sealedAt.map(format.string(from:))
        finishedAt = job.finishedAt.map(format.string(from:))
        haltReason = job.haltReason
        warning = job.warning
        warningAt = job.warningAt.map(format.string(from:))
        jobs = job.spec.maxRunning?.description
        itemsPerRun = job.spec.grouping.map { if case .items(let n) = $0 { "\(n)" } else { "fit" } }
        priority = job.spec.priority
        weight = job.spec.weight
        rate = job.spec.rate?.description
    }

    /// What the job gets of the workers, and why it waits when it does:
    /// `candidates` are every runnable job (`jobsSchedulingCandidates`),
    /// `served` whether a live daemon of the job's owner serves the store.
    mutating func addScheduling(_ job: Job, candidates: [FairShare.Candidate], served: Bool, now: Date = Date()) {
        guard job.state.isRunnable, let me = candidates.first(where: { $0.job == job.id }) else { return }
        let total = candidates.reduce(0) { $0 + $1.running }
        share = total > 0 ? (Double(me.running) / Double(total) * 100).rounded() / 100 : 0
        if me.hasWork, me.running == 0, !served {
            waiting = "no daemon serves it (batch daemon status)"
        } else if let reason = FairShare.waitReason(of: job.id, among: candidates, now: now) {
            waiting = reason.description
        }
    }

    /// The command as a shell would show it.
    static func commandText(_ command: [String]) -> String {
        command.map { word in
            word.isEmpty || word.contains(where: { " \t\n'\"$`\\|&;()<>*?[]{}~#".contains($0) })
                ? "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" : word
        }.joined(separator: " ")
    }
}
