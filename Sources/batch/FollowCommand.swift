import ArgumentParser
import BatchStore

struct FollowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Print a job's results as they are ready, in input order (or completion order).",
        discussion: """
            Each output is printed as soon as every earlier item is done (like Python's imap); with \
            --unordered, as soon as it is done (like imap_unordered; that order is recorded, so it is the \
            same on every read). Keeps going until the job's input is complete and every item finished. \
            Failed items get one line on stderr. An interrupted follower resumes with --from N, where N \
            is the number of entries it printed, failed items included (not lines of output: the cursor \
            of the last JSON record). Ctrl-C only detaches, and prints the command that resumes.

            Examples:
              batch follow 7
              batch follow 7 --unordered --json
              batch follow 7 --from 1200

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var follow: FollowOptions
    @OptionGroup var progress: ProgressOptions

    @Option(help: "Skip the first N entries of the stream (to resume an interrupted follower).")
    var from: Int64 = 0

    @Argument(help: "The job id.")
    var job: String

    func validate() throws {
        _ = try parseJobID(job)
        guard from >= 0 else { throw ValidationError("--from takes a count of entries, 0 or more, not \(from)") }
    }

    func run() async throws {
        let status = try await reportingErrors {
            let db = try store.openStore()
            let id = try parseJobID(job)
            guard let found = try db.jobFetch(id) else { throw CLIError(.noSuchJob, "no job \(id)") }
            if found.state.isRunnable { try store.ensureDaemon(db, owner: found.ownerUID ?? db.legacyOwner) }
            let (order, from, json, records) = (follow.order, from, follow.json, follow.records)
            Interruption.install(.detachFollow(job: id, unordered: follow.unordered), cursor: from)
            return try await withDaemonWatch(store: db, options: store, job: id) {
                try await withProgress(store: db, job: id, mode: progress.mode) {
                    try await followResults(store: db, job: id, order: order, from: from, json: json, records: records)
                }
            }
        }
        if status != .success { throw status.exitCode }
    }
}
