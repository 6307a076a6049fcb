import ArgumentParser
import BatchStore
import Foundation

struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove a finished job with its items and results.",
        discussion: """
            Refuses a job that is still open or running unless --force (its daemons then drop its work). \
            Run 'batch gc' to give the space back to the file system.

            Example:
              batch rm 7

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Flag(help: "Remove the job even if it is still open or running.")
    var force = false

    @Argument(help: "The job ids.")
    var jobs: [String]

    func validate() throws {
        guard !jobs.isEmpty else { throw ValidationError("name the job(s) to remove") }
        for job in jobs { _ = try parseJobID(job) }
    }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            for job in jobs { try db.jobDelete(try parseJobID(job), force: force) }
        }
    }
}

struct GarbageCollectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove jobs that ended long ago and give their space back.",
        discussion: """
            Removes every complete, failed or cancelled job that ended more than the given time ago, then \
            compacts the database file when no daemon serves it and no other process is using it at that \
            moment (compacting rewrites the file and would stall a daemon); otherwise the space is reused \
            by new jobs.

            Example:
              batch gc --older-than 7d

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Option(name: .customLong("older-than"), help: "Remove jobs that ended more than this long ago (e.g. 12h, 7d; 0 for all ended jobs).")
    var olderThan: String

    func validate() throws {
        guard DurationText.seconds(olderThan) != nil else {
            throw ValidationError("--older-than takes a duration like 12h or 7d, not '\(olderThan)'")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let db = try store.openStore()
            let cutoff = Date().addingTimeInterval(-(DurationText.seconds(olderThan) ?? 0))
            let removed = try db.jobsDeleteEnded(before: cutoff)
            // VACUUM rewrites the whole file under the write lock: a daemon
            // serving the file would stall behind it for as long (its results
            // and lease renewals wait), so it runs only when none is alive.
            let now = Date()
            let serving = try db.daemonsList().filter { $0.isAlive(now: now, heartbeatWithin: 10) }
            let compacted = serving.isEmpty ? try db.storageCompact() : false
            let why = serving.isEmpty
                ? "the database is in use, so its free space will be reused rather than given back"
                : "\(serving.count) daemon(s) serve the database, so it is not compacted (that would stall them); its free space is reused, or run 'batch gc' again after 'batch daemon stop'"
            StandardError.line("batch: removed \(removed.count) job(s)\(compacted ? "; database compacted" : "; " + why)")
        }
    }
}
