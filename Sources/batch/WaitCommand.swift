import ArgumentParser
import BatchStore
import Foundation

struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until every item of a job is finished, then print all outputs in input order.",
        discussion: """
            Like Python's map_async().get(): nothing is printed until the job is done. A job whose input \
            is still arriving is waited on until it is sealed and done. With --timeout, gives up after \
            that long (exit 124) and leaves the job running.

            Examples:
              batch wait 7 > results.txt
              batch wait 7 --timeout 10m --json

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions

    @Flag(help: "Print one JSON object per item (see 'batch follow --help').")
    var json = false

    @OptionGroup var records: RecordOptions

    @OptionGroup var progress: ProgressOptions

    @Option(help: "Give up after this long (e.g. 500ms, 30s, 5m, 1h); the job goes on.")
    var timeout: String?

    @Argument(help: "The job id.")
    var job: String

    func validate() throws {
        _ = try parseJobID(job)
        if let timeout, DurationText.seconds(timeout) == nil {
            throw ValidationError("--timeout takes a duration like 500ms, 30s, 5m or 1h, not '\(timeout)'")
        }
    }

    func run() async throws {
        let status = try await reportingErrors {
            let db = try store.openStore()
            let id = try parseJobID(job)
            guard try db.jobFetch(id) != nil else { throw CLIError(.noSuchJob, "no job \(id)") }
            let deadline = timeout.flatMap(DurationText.seconds).map { Date().addingTimeInterval($0) }
            let (timeoutText, json, records) = (timeout, json, records)
            if let found = try db.jobFetch(id), found.state.isRunnable {
                try store.ensureDaemon(db, owner: found.ownerUID ?? db.legacyOwner)
            }
            Interruption.install(.detachWait(job: id))
            return try await withDaemonWatch(store: db, options: store, job: id) {
              try await withProgress(store: db, job: id, mode: progress.mode) {
                var delay = 0.005
                while true {
                    guard let found = try db.jobFetch(id) else { throw CLIError(.noSuchJob, "no job \(id)") }
                    if found.state.isFinal { break }
                    if let deadline, Date() >= deadline {
                        throw CLIError(
                            .timedOut,
                            "job \(id) is still running after \(timeoutText!) (\(found.finishedCount) of \(found.itemCount)\(found.state == .open ? " so far" : "") items finished); it goes on")
                    }
                    var pause = delay
                    if let deadline { pause = max(0, min(pause, deadline.timeIntervalSinceNow)) }
                    try await Task.sleep(for: .seconds(pause))
                    delay = min(delay * 2, 0.05)
                }
                return try await followResults(store: db, job: id, order: .input, from: 0, json: json, records: records)
              }
            }
        }
        if status != .success { throw status.exitCode }
    }
}
