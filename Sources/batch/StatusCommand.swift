import ArgumentParser
import BatchStore
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a job's state and counts (the newest job without an id).",
        discussion: """
            Examples:
              batch status 7
              batch status --json

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Flag(help: "Print one JSON object: id, state, command, working_directory, items, input_complete, finished, succeeded, failed, pending, created_at, sealed_at, finished_at, halt_reason, rate_per_second, eta_seconds, daemons (pids), failures ([{line, reason}]), claimed, running, jobs, items_per_run, priority, weight, rate, share, waiting, attempts, retried.")
    var json = false

    @Argument(help: "The job id (default: the newest job).")
    var job: String?

    func validate() throws {
        if let job { _ = try parseJobID(job) }
    }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            let found: Job
            if let job {
                let id = try parseJobID(job)
                guard let fetched = try db.jobFetch(id) else { throw CLIError(.noSuchJob, "no job \(id)") }
                found = fetched
            } else {
                guard let newest = try db.jobsList(limit: 1).first else { throw CLIError(.noSuchJob, "there are no jobs in \(db.location)") }
                found = newest
            }
            var s = JobSummary(found)
            try s.addLiveFigures(from: db, job: found)
            try s.addScheduling(found, candidates: db.jobsSchedulingCandidates(), served: Self.served(found, db))
            if json {
                writeAll(1, Array((JSONLine.encode(s) + "\n").utf8))
                return
            }
            let total = s.inputComplete
                ? "\(s.items)"
                : s.inputInterrupted ? "\(s.items) so far, input interrupted" : "\(s.items) so far, input still arriving"
            let interrupted = s.inputInterrupted
                ? "\n  input:    interrupted: its submitter (pid \(found.submitter?.pid ?? 0)) is gone; 'batch submit --resume \(s.id) < INPUT' stores the rest, 'batch cancel \(s.id)' ends the job"
                : ""
            let text = """
                job \(s.id): \(s.inputInterrupted ? "open, input interrupted" : s.state)\(interrupted)
                  command:  \(JobSummary.commandText(s.command))
                  in:       \(s.workingDirectory)
                  items:    \(total)
                  finished: \(s.finished) (\(s.succeeded) succeeded, \(s.failed) failed), \(s.pending) pending (\(s.claimed ?? 0) claimed by a daemon)
                  sharing:  priority \(s.priority), weight \(s.weight.compactText)\(s.rate.map { ", at most \($0)" } ?? ""), \(Int(((s.share ?? 0) * 100).rounded()))% of the running commands\(s.waiting.map { "\n  waiting:  \($0)" } ?? "")
                  running:  \(s.running ?? 0) command(s)\(s.jobs.map { ", at most \($0) at once (-j)" } ?? "")\(s.itemsPerRun.map { $0 == "fit" ? "; as many items per run as fit (-X)" : "; up to \($0) items per run (-n)" } ?? "")
                  attempts: \(s.attempts ?? 0) runs for the finished items, \(s.retried ?? 0) needed a retry
                  created:  \(s.createdAt)\(s.finishedAt.map { "\n  ended:    \($0)" } ?? "")\(s.haltReason.map { "\n  reason:   \($0)" } ?? "")
                  rate:     \(s.ratePerSecond ?? 0) items/s over the last minute\(s.etaSeconds.map { ", about \(Int($0)) s to go" } ?? "")
                  daemons:  \(s.daemons?.isEmpty ?? true ? "none working on it" : s.daemons!.map { "pid \($0)" }.joined(separator: ", "))\(found.state.isRunnable ? s.warning.map { "\n  warning:  \($0) (\(s.warningAt ?? ""))" } ?? "" : "")\((s.failures ?? []).map { "\n  failed:   line \($0.line): \($0.reason)" }.joined())

                """
            writeAll(1, Array(text.utf8))
        }
    }

    /// Whether a live daemon of the job's owner serves the store.
    static func served(_ job: Job, _ db: any BatchStore) throws -> Bool {
        let owner = job.ownerUID ?? db.legacyOwner
        return try db.daemonsList().contains {
            ($0.uid == nil || $0.uid == owner) && $0.isAlive(now: Date(), heartbeatWithin: 10)
        }
    }
}
