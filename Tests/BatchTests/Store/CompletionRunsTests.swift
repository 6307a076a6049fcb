@testable import BatchStore
import Testing

/// `CompletionRuns` folds a group commit's results into runs of consecutive
/// lines and sequences, one open run per job.
@Suite struct CompletionRunsTests {
    typealias Run = CompletionRuns.Run

    @Test func consecutiveLinesAndSequencesShareARun() {
        var runs = CompletionRuns()
        for (sequence, line) in zip(Int64(10)...14, Int64(101)...105) { runs.add(job: JobID(1), sequence: sequence, line: line) }
        #expect(runs.finish() == [Run(job: JobID(1), firstSequence: 10, firstLine: 101, lastLine: 105)])
        #expect(runs.finish().isEmpty, "finish hands the runs over once")
    }

    @Test func aGapInLinesOrSequencesStartsANewRun() {
        var runs = CompletionRuns()
        runs.add(job: JobID(1), sequence: 1, line: 1)
        runs.add(job: JobID(1), sequence: 2, line: 3)  // a line skipped (answered before)
        runs.add(job: JobID(1), sequence: 4, line: 4)  // a sequence taken by another slot
        runs.add(job: JobID(1), sequence: 5, line: 5)
        #expect(runs.finish() == [
            Run(job: JobID(1), firstSequence: 1, firstLine: 1, lastLine: 1),
            Run(job: JobID(1), firstSequence: 2, firstLine: 3, lastLine: 3),
            Run(job: JobID(1), firstSequence: 4, firstLine: 4, lastLine: 5),
        ])
    }

    @Test func jobsKeepTheirOwnRuns() {
        var runs = CompletionRuns()
        runs.add(job: JobID(2), sequence: 1, line: 1)
        runs.add(job: JobID(1), sequence: 7, line: 7)
        runs.add(job: JobID(2), sequence: 2, line: 2)
        runs.add(job: JobID(1), sequence: 8, line: 8)
        #expect(runs.finish() == [
            Run(job: JobID(1), firstSequence: 7, firstLine: 7, lastLine: 8),
            Run(job: JobID(2), firstSequence: 1, firstLine: 1, lastLine: 2),
        ])
    }
}
