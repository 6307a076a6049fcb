import ArgumentParser
import BatchStore
import Foundation

struct PriorityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "priority",
        abstract: "Change a running job's priority: higher runs first.",
        discussion: """
            Workers follow it at their next chunk: a job raised above the others takes the workers \
            as each finishes its current chunk (a stream process hands over too); running items are \
            not interrupted.

            Examples:
              batch priority 7 10
              batch priority 7 -- -5

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: "The job id.")
    var job: String

    @Argument(help: "The new priority (default of a job: 0; a negative one after --).")
    var priority: Int

    func validate() throws {
        _ = try parseJobID(job)
        guard abs(priority) <= 1_000_000 else { throw ValidationError("the priority is a number from -1000000 to 1000000") }
    }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            let id = try parseJobID(job)
            guard try db.jobFetch(id) != nil else { throw CLIError(.noSuchJob, "no job \(id)") }
            try db.jobPrioritySetIfRunnable(id, priority: priority)
        }
    }
}
