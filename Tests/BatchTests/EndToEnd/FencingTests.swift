import BatchStore
import Foundation
import Testing

extension EndToEnd {
    @Suite struct Fencing {
        /// A daemon paused (SIGSTOP) past its lease loses its chunk to another
        /// daemon; when it resumes, its late result is rejected and the
        /// recorded result stays the second daemon's.
        @Test func staleWriterIsRejectedAfterATakeOver() throws {
            let env = BatchEnvironment()
            let first = try env.startDaemon(["--workers", "1", "--lease", "2s"])
            // The first run leaves a mark and answers "first" a second later; any later run answers "second".
            let script = "if [ -e mark ]; then echo second; else touch mark; sleep 1; echo first; fi"
            let submitted = try env.batch(["submit", "--", "sh", "-c", script, "_"], input: "x\n")
            let id = try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)))
            try #require(TestProcess.eventually { FileManager.default.fileExists(atPath: env.directory.file("mark")) })
            first.signal(SIGSTOP)
            defer { first.signal(SIGCONT) }

            // The paused daemon is alive, so only its lease running out frees the chunk.
            try env.startDaemon(["--workers", "1", "--lease", "2s"])
            let store = try env.store()
            #expect(try env.waitForJobEnd(id, timeout: 60)?.state == .complete)
            let recorded = try store.resultsByLine(job: id, afterLine: 0, limit: 5)
            #expect(recorded.map(\.outcome.output) == [Data("second\n".utf8)])

            first.signal(SIGCONT)
            // Its run finished while it was paused: give it time to collect "first" and
            // try to record it (it is fenced out, or notices the loss first and drops it).
            usleep(2_000_000)
            #expect(first.isRunning, "the resumed daemon goes on serving")
            #expect(try store.resultsByLine(job: id, afterLine: 0, limit: 5).map(\.outcome.output) == [Data("second\n".utf8)])
            #expect(try store.jobFetch(id)?.finishedCount == 1)
        }

        /// A daemon resumed after its chunk was taken over starts no further
        /// item of it (issue 19): before starting an item after a gap, it
        /// looks at its lease in the store.
        @Test func aResumedDaemonStartsNothingOfAChunkItLost() throws {
            let env = BatchEnvironment()
            let runs = env.directory.file("runs")
            let first = try env.startDaemon(["--workers", "1", "--lease", "2s"])
            let id = try #require(JobID(parsing: try env.batch(
                ["submit", "--chunksize", "4", "--", "sh", "-c", "echo start $1 >> \(runs); sleep 1", "_"],
                input: "1\n2\n3\n4\n").out.trimmingCharacters(in: .whitespacesAndNewlines)))
            try #require(TestProcess.eventually(timeout: 30) { FileManager.default.fileExists(atPath: runs) })
            first.signal(SIGSTOP)
            defer { first.signal(SIGCONT) }
            try env.startDaemon(["--workers", "1", "--lease", "2s"])
            // The second daemon takes the chunk once the first has not beaten for a lease.
            try #require(TestProcess.eventually(timeout: 30) {
                ((try? String(contentsOfFile: runs, encoding: .utf8)) ?? "").contains("start 2")
            })
            first.signal(SIGCONT)
            #expect(try env.waitForJobEnd(id, timeout: 60)?.state == .complete)
            usleep(1_500_000)
            let starts = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n")
            for line in 2...4 {
                #expect(starts.filter { $0 == "start \(line)" }.count == 1, "line \(line) started once: \(starts) \(first.stderrText)")
            }
        }
    }
}
