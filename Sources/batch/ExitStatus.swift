import ArgumentParser

/// The exit statuses of `batch`, as documented in the README and `--help`.
enum ExitStatus: Int32 {
    case success = 0
    /// follow / wait / run: some items failed (their outputs are missing from the stream).
    case itemsFailed = 1
    /// follow / wait / run: the job was cancelled before every item finished.
    case jobCancelled = 2
    /// No job with that id.
    case noSuchJob = 3
    /// follow / wait / run: the job's --halt policy stopped it.
    case jobHalted = 5
    /// The command does not apply to the job in its state (resuming a sealed job,
    /// cancelling a finished one).
    case jobState = 4
    /// Bad options or arguments (from the argument parser too).
    case usage = 64
    /// Bad input data: an item over the size limit, a resumed input that differs.
    case badInput = 65
    /// The input file cannot be read.
    case noInput = 66
    /// An output file (`--joblog`) cannot be written.
    case cannotCreate = 73
    /// No daemon serves the database and one could not be started.
    case unavailable = 69
    /// The database cannot be opened, is not a batch database, or failed.
    case storage = 74
    /// wait --timeout ran out; the job goes on.
    case timedOut = 124
    /// submit / run: the command cannot be found (or is not executable) here.
    case commandNotFound = 127

    var exitCode: ExitCode { ExitCode(rawValue) }

    static let helpText = """
        Exit status: 0 success; 1 some items failed; 2 the job was cancelled; 3 no such job; \
        4 the job's state does not allow it; 5 the job was halted by its --halt policy; 64 bad options; 65 bad input (an item over the size limit, \
        a resumed input that differs, a per-item item over 128 KiB); 66 the input file cannot be read; 69 no daemon could be started; \
        73 the --joblog file cannot be written; 74 the database cannot be used; 124 wait timed out (the job goes on); 127 the command was not found \
        (submit, run); 130 interrupted by Ctrl-C (run \
        cancels its job, follow and wait detach).
        """
}
