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

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Flag(help: "Print one JSON object per job (the schema of 'batch status --json').")
    var json = false

    @Option(help: "Show at most this many jobs.")
    var limit: Int = 20

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive, not \(limit)") }
    }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            let jobs = try db.jobsList(limit: limit)
            var out = OutputBuffer(fd: 1)
            if json {
                for job in jobs { out.append(JobSummary.encode(JobSummary(job)) + "\n") }
            } else {
                out.append("JOB     STATE      ITEMS   DONE  FAILED  COMMAND\n")
                for job in jobs {
                    let items = job.state == .open ? "\(job.itemCount)+" : "\(job.itemCount)"
                    out.append(
                        pad(job.id.description, 6) + "  " + pad(job.state.rawValue, 9) + " " + pad(items, 6, right: true)
                            + " " + pad("\(job.finishedCount)", 6, right: true) + " " + pad("\(job.failedCount)", 7, right: true)
                            + "  " + JobSummary.commandText(job.spec.command) + "\n")
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
