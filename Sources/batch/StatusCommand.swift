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

    @Flag(help: "Print one JSON object: id, state, command, working_directory, items, input_complete, finished, succeeded, failed, pending, created_at, sealed_at, finished_at, halt_reason.")
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
                guard let newest = try db.jobsList(limit: 1).first else { throw CLIError(.noSuchJob, "there are no jobs in \(db.path)") }
                found = newest
            }
            if json {
                writeAll(1, Array((JobSummary.encode(JobSummary(found)) + "\n").utf8))
                return
            }
            let s = JobSummary(found)
            let total = s.inputComplete ? "\(s.items)" : "\(s.items) so far, input still arriving"
            let text = """
                job \(s.id): \(s.state)
                  command:  \(JobSummary.commandText(s.command))
                  in:       \(s.workingDirectory)
                  items:    \(total)
                  finished: \(s.finished) (\(s.succeeded) succeeded, \(s.failed) failed), \(s.pending) pending
                  created:  \(s.createdAt)\(s.finishedAt.map { "\n  ended:    \($0)" } ?? "")\(s.haltReason.map { "\n  reason:   \($0)" } ?? "")

                """
            writeAll(1, Array(text.utf8))
        }
    }
}
