import ArgumentParser

@main
struct Batch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Durable parallel map over lines of input: like xargs -P or Python's Pool, but nothing is lost in a crash.",
        discussion: """
            Items (lines of standard input) are stored in a database as they arrive; the batchd daemon runs \
            a command on each and records every result exactly once, across crashes of any process. A daemon \
            is started in the background when none serves the database.

            Examples:
              seq 10 | batch run -- echo
              JOB=$(ls *.csv | batch submit -- gzip -k {}); batch wait $JOB

            \(ExitStatus.helpText)
            """,
        subcommands: [
            RunCommand.self, SubmitCommand.self, FollowCommand.self, WaitCommand.self, StatusCommand.self,
            ListCommand.self, CancelCommand.self, RetryCommand.self, ResultsCommand.self, LogsCommand.self, RemoveCommand.self, GarbageCollectCommand.self, DaemonCommand.self,
        ])
}
