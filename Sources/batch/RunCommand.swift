import ArgumentParser
import BatchStore
import Foundation

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Submit items from standard input and print the results as they are ready.",
        discussion: """
            submit and follow in one step: results stream out while the input is still being read. If \
            interrupted, nothing is lost: 'batch list' shows the job, 'batch follow JOB --from N' picks \
            the stream up again, and 'batch submit --resume JOB' completes an unfinished input.

            Examples:
              seq 10 | batch run -- echo
              cat urls.txt | batch run --unordered -- curl -sS {}
              printf '1\\n5\\n3\\n' | batch run -- sh -c 'sleep 0.$1; echo $(($1+2))' _

            \(ExitStatus.helpText)
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var follow: FollowOptions
    @OptionGroup var progress: ProgressOptions
    @OptionGroup var submit: SubmitOptions

    func validate() throws { try submit.validateCommand("run", Self.self) }

    func run() async throws {
        let status = try await reportingErrors {
            // The input first: a job is never created for an input that cannot be read.
            let (fd, name) = try submit.openInput()
            if submit.parallel.dryRun {
                try DryRun(options: submit).run(fd: fd, inputName: name)
                return ExitStatus.success
            }
            let db = try store.openStore()
            if fd >= 0, isatty(fd) == 1 {
                // Otherwise a terminal just waits, showing "0/0 so far".
                StandardError.line("batch: reading items from the terminal, one per line, until Ctrl-D")
            }
            let spec = submit.jobSpec()
            try submit.checkCommandRuns(spec, on: db.location)
            let job = try db.jobCreate(spec, now: Date())
            Interruption.install(.cancelRun(store: db, job: job.id))
            try store.ensureDaemon(db)
            let submitOptions = submit
            let passedAsArgument = !submit.stream
            let separator: UInt8 = submit.null ? 0 : 10
            let order = follow.order
            let json = follow.json
            let records = follow.records
            let progressMode = progress.mode
            // On a server, a store is one connection whose calls take turns:
            // the input gets a connection of its own, or every poll of the
            // follower holds up the items behind it (measured: 200,000 items
            // in stream mode took 18 s instead of 4, in chunks of 129 items).
            let input: any BatchStore
            if case .postgres = db.location { input = try store.openStore() } else { input = db }
            return try await withThrowingTaskGroup(of: ExitStatus?.self) { group in
                group.addTask {
                    // A thread of its own: reading the input blocks, and must not hold up the follower.
                    do {
                        try await onThread {
                            var items = submitOptions.inputItems(fd: fd, separator: separator, passedAsArgument: passedAsArgument)
                            _ = try Submitter(store: input, jobID: job.id, alreadyStored: 0, inputName: name).submit(from: &items)
                        }
                    } catch let error as CLIError where error.status == .jobCancelled {
                        // Cancelled while its input arrived: the follower says so, once.
                    }
                    return nil
                }
                group.addTask { [store] in
                    try await withDaemonWatch(store: db, options: store, job: job.id) {
                        try await withProgress(store: db, job: job.id, mode: progressMode) {
                            try await followResults(store: db, job: job.id, order: order, from: 0, json: json, records: records)
                        }
                    }
                }
                var status = ExitStatus.success
                while let result = try await group.next() {
                    if let result { status = result }
                }
                return status
            }
        }
        if status != .success { throw status.exitCode }
    }
}

/// Runs blocking work on a new thread and awaits its end.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.start()
    }
}
