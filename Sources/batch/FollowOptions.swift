import ArgumentParser
import BatchStore

/// How results are printed by `follow` and `run`.
struct FollowOptions: ParsableArguments {
    @Flag(help: "Print results in completion order (like imap_unordered) instead of input order (like imap).")
    var unordered = false

    @Flag(help: "Print one JSON object per item: line, status, exit_status, signal, output (or output_base64), attempts, cursor.")
    var json = false

    var order: ResultStream.Order { unordered ? .completion : .input }
}

/// Prints a job's results as they are recorded until the job ends, and
/// returns the exit status that describes how it ended.
func followResults(store: any BatchStore, job: JobID, order: ResultStream.Order, from cursor: Int64, json: Bool)
    async throws -> ExitStatus
{
    var stream = ResultStream(store: store, job: job, order: order, from: cursor)
    var printer = ResultPrinter(json: json, order: order)
    while let page = try await stream.next() {
        for result in page { printer.print(result) }
        printer.flush()
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
