/// The completion order of the results one group commit records, as runs:
/// results of a job with consecutive sequences and consecutive lines share
/// one run, stored as one row of the SQLite store's `completion` table
/// (schema v11) instead of an index entry per result.
///
/// A stream slot's answers arrive in line order and take consecutive
/// sequences, so a chunk's answers recorded in one commit are one run; one
/// process per item gives runs of one (as many rows as the index had
/// entries). Runs of different jobs, and of two slots of one job whose
/// batches interleave, are kept apart: each job has one open run, and a
/// result that does not continue it closes it.
///
/// Guarantee: every result added is in exactly one run, and a run's
/// sequence `first + k` is its line `firstLine + k`.
struct CompletionRuns {
    struct Run: Equatable {
        var job: JobID
        var firstSequence: Int64
        var firstLine: Int64
        var lastLine: Int64
    }

    /// One open run per job: a commit holds few jobs, so a short array
    /// searched from its end (a hash of the job per result showed in the
    /// daemon's profile).
    private var open: [Run] = []
    /// Runs closed so far, in the order they were closed.
    private var closed: [Run] = []

    /// Adds one recorded result.
    mutating func add(job: JobID, sequence: Int64, line: Int64) {
        let fresh = Run(job: job, firstSequence: sequence, firstLine: line, lastLine: line)
        guard let index = open.lastIndex(where: { $0.job == job }) else {
            open.append(fresh)
            return
        }
        let run = open[index]
        if sequence == run.firstSequence + (run.lastLine - run.firstLine) + 1, line == run.lastLine + 1 {
            open[index].lastLine = line
        } else {
            closed.append(run)
            open[index] = fresh
        }
    }

    /// Every run, the open ones closed: what the commit writes.
    mutating func finish() -> [Run] {
        let runs = closed + open.sorted { $0.job.rawValue < $1.job.rawValue }
        (open, closed) = ([], [])
        return runs
    }
}
