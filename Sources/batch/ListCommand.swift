import ArgumentParser
import BatchStore
import Foundation

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List recent jobs, newest first.",
        discussion: """
            Examples:
              batch list
              batch list --json --limit 5
              batch list --state running,halted
              batch list --with-failures

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Flag(help: "Print one JSON object per job (the schema of 'batch status --json').")
    var json = false

    @Option(help: "Show at most this many jobs.")
    var limit: Int = 20

    @Option(help: "Only jobs in these states (comma-separated): open, sealed, complete, halted (stopped by --halt; also: failed), cancelled; 'running' means open or sealed.")
    var state: String?

    @Flag(name: .customLong("with-failures"), help: "Only jobs with at least one failed item, whatever their state.")
    var withFailures = false

    static func states(_ word: Substring) -> [JobState]? {
        switch word {
        case "running": [.open, .sealed]
        case "halted": [.failed]
        default: JobState(rawValue: String(word)).map { [$0] }
        }
    }

    var states: Set<JobState>? {
        state.map { text in Set(text.split(separator: ",").flatMap { Self.states($0) ?? [] }) }
    }

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive, not \(limit)") }
        if let state {
            for word in state.split(separator: ",", omittingEmptySubsequences: false) where Self.states(word) == nil {
                throw ValidationError("--state takes open, sealed, complete, halted, cancelled or running, not '\(word)'")
            }
        }
    }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            var jobs = try db.jobsList(limit: withFailures ? Int.max : limit, states: states)
            if withFailures { jobs = Array(jobs.lazy.filter { $0.failedCount > 0 }.prefix(limit)) }
            var out = OutputBuffer(fd: 1)
            let candidates = try db.jobsSchedulingCandidates()
            var served: [UInt32: Bool] = [:]
            let summaries = try jobs.map { job in
                var summary = JobSummary(job)
                if job.state.isRunnable {
                    let owner = job.ownerUID ?? db.legacyOwner
                    if served[owner] == nil { served[owner] = try StatusCommand.served(job, db) }
                    summary.addScheduling(job, candidates: candidates, served: served[owner]!)
                }
                return summary
            }
            if json {
                for summary in summaries { out.append(JSONLine.encode(summary) + "\n") }
            } else {
                out.append("JOB     STATE        ITEMS   DONE  FAILED  PRI  SHARE  COMMAND\n")
                for (job, summary) in zip(jobs, summaries) {
                    let items = job.state == .open ? "\(job.itemCount)+" : "\(job.itemCount)"
                    let share = summary.share.map { "\(Int(($0 * 100).rounded()))%" } ?? "-"
                    out.append(
                        pad(job.id.description, 6) + "  " + pad(job.inputInterrupted() ? "interrupted" : job.state.rawValue, 11)
                            + " " + pad(items, 6, right: true)
                            + " " + pad("\(job.finishedCount)", 6, right: true) + " " + pad("\(job.failedCount)", 7, right: true)
                            + " " + pad("\(job.spec.priority)", 4, right: true) + " " + pad(share, 6, right: true)
                            + "  " + Printable.text(JobSummary.commandText(summary.command))
                            + (summary.waiting.map { "  (waiting: \($0))" } ?? "") + "\n")
                }
            }
            out.flush()
        }
    }

    private func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }
}
