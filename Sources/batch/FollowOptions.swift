import ArgumentParser
import BatchStore

/// How results are printed by `follow` and `run`.
struct FollowOptions: ParsableArguments {
    @Flag(help: "Print results in completion order (like imap_unordered) instead of input order (like imap).")
    var unordered = false

    @Flag(help: "Print one JSON object per item: line, input (or input_base64), status, exit_status, signal, output (or output_base64), attempts, cursor, and group for an item of a group run.")
    var json = false

    @OptionGroup var records: RecordOptions

    var order: ResultStream.Order { unordered ? .completion : .input }
}

/// `--tag` and `--joblog`, shared by follow, wait, run and results.
struct RecordOptions: ParsableArguments {
    @Flag(help: "Prefix each line of output with its item and a tab (like GNU parallel --tag; a group's items are joined by spaces).")
    var tag = false

    @Option(help: "Append one line per run to FILE in GNU parallel's joblog format (Seq Host Starttime JobRuntime Send Receive Exitval Signal Command).")
    var joblog: String?

    func printer(json: Bool, order: ResultStream.Order, job: Job) throws -> ResultPrinter {
        ResultPrinter(json: json, order: order, tag: tag, joblog: try joblog.map { try Joblog(path: $0, job: job) })
    }
}

/// `--progress` / `--no-progress`, shared by follow, wait and run.
struct ProgressOptions: ParsableArguments {
    @Flag(help: "Show progress on stderr even when it is not a terminal (a line every 2 s).")
    var progress = false

    @Flag(name: .customLong("no-progress"), help: "Never show progress (by default it is shown when stderr is a terminal).")
    var noProgress = false

    var mode: ProgressReporter.Mode { ProgressReporter.mode(progress: progress, noProgress: noProgress) }
}

/// Runs `body` with a progress reporter drawing beside it, and erases the
/// progress line before returning.
func withProgress<T: Sendable>(
    store: any BatchStore, job: JobID, mode: ProgressReporter.Mode, _ body: @Sendable () async throws -> T
) async throws -> T {
    guard mode != .off else { return try await body() }
    // Unstructured so that it runs beside `body` and is cancelled and awaited
    // (erasing its line) on every way out of this function.
    let reporter = Task { await ProgressReporter(store: store, job: job, mode: mode).run() }
    defer { reporter.cancel() }
    do {
        let value = try await body()
        reporter.cancel()
        await reporter.value
        return value
    } catch {
        reporter.cancel()
        await reporter.value
        throw error
    }
}

/// Prints a job's results as they are recorded until the job ends, and
/// returns the exit status that describes how it ended.
func followResults(
    store: any BatchStore, job: JobID, order: ResultStream.Order, from cursor: Int64, json: Bool, records: RecordOptions
) async throws -> ExitStatus {
    var stream = ResultStream(store: store, job: job, order: order, from: cursor)
    guard let found = try store.jobFetch(job) else { throw CLIError(.noSuchJob, "no job \(job)") }
    var printer = try records.printer(json: json, order: order, job: found)
    while let page = try await stream.next() {
        let lines = printer.linesNeeded(for: page)
        let inputs = lines.isEmpty ? [:] : try store.itemsFetch(job: job, lines: lines)
        Interruption.printing(upTo: stream.cursor) {
            for result in page { printer.print(result, inputs: inputs) }
            printer.flush()
        }
    }
    printer.flush()
    guard let final = stream.finalJob else { return .success }
    return endStatus(of: final)
}

func endStatus(of job: Job) -> ExitStatus {
    if job.state == .failed {
        StandardError.line("batch: job \(job.id) \(job.haltReason ?? "failed"); \(job.pendingCount) items did not run")
        return .jobHalted
    }
    if job.state == .cancelled {
        StandardError.line("batch: job \(job.id) was cancelled with \(job.pendingCount) of \(job.itemCount) items unfinished")
        return .jobCancelled
    }
    if job.failedCount > 0 {
        StandardError.line("batch: job \(job.id): \(job.failedCount) of \(job.itemCount) items failed")
        return .itemsFailed
    }
    return .success
}
