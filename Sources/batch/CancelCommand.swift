import ArgumentParser
import BatchStore
import Foundation

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a job: nothing more starts, running commands are killed.",
        discussion: """
            Results recorded before the cancel are kept. Daemons kill the job's running commands (their \
            whole process group) within a fraction of a second.

            Example:
              batch cancel 7

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: "The job id.")
    var job: String

    func validate() throws { _ = try parseJobID(job) }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            let id = try parseJobID(job)
            if try !db.jobCancelIfRunnable(id, now: Date()) {
                let state = try db.jobFetch(id)?.state.rawValue ?? "gone"
                throw CLIError(.jobState, "job \(id) is \(state) already; nothing to cancel")
            }
        }
    }
}
