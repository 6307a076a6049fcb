import ArgumentParser
import BatchStore

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
        version: BatchVersion.line("batch"),
        subcommands: [
            RunCommand.self, SubmitCommand.self, FollowCommand.self, WaitCommand.self, StatusCommand.self,
            ListCommand.self, SealCommand.self, UICommand.self, CancelCommand.self, PriorityCommand.self, RetryCommand.self, ResultsCommand.self, LogsCommand.self, RemoveCommand.self, GarbageCollectCommand.self, BackupCommand.self, DaemonCommand.self,
        ])

    /// The parser's entry point, after a look for a misspelled subcommand
    /// (the parser only says "Unexpected argument").
    static func main() async {
        if let hint = ArgumentHints.unknownSubcommand(Array(CommandLine.arguments.dropFirst())) {
            StandardError.line("Error: \(hint)")
            exit(withError: ExitCode(ExitStatus.usage.rawValue))
        }
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
