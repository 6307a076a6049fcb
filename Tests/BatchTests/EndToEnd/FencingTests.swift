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
    }
}
