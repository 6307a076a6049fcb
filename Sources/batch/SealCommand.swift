import ArgumentParser
import BatchStore
import Foundation

/// Marks the end of a job's input given with `submit --open`: a program that
/// feeds a job through a pipe says explicitly that its input is complete, so
/// that its death (which also closes the pipe) leaves the job open, to be
/// resumed, rather than sealing half of it as if it were whole.
struct SealCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal",
        abstract: "Mark an open job's input as complete (after submit --open).",
        discussion: """
            A job submitted with --open stays open when its input ends; it completes only once sealed. \
            Programs that feed a job through a pipe use it (batchpool does): if they die, the pipe closes \
            too, and the job must not look finished.

            Example:
              JOB=$(produce | batch submit --open -- work); batch seal $JOB

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
            guard try db.jobFetch(id) != nil else { throw CLIError(.noSuchJob, "no job \(id)") }
            do {
                _ = try db.jobSealIfOpen(id, now: Date())
            } catch let error as StoreError where error.code == .jobState {
                throw CLIError(.jobState, error.message)
            }
        }
    }
}
