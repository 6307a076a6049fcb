import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// Failures are values in the stream: retries, timeouts, halts, output
    /// limits and `batch retry`, through the real binaries.
    @Suite struct Failures {
        static func jsonLines(_ text: String) -> [[String: Any]] {
            text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        @Test func failedItemsKeepTheirPlaceInTheStream() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let command = ["--chunksize", "4", "--", "sh", "-c", "if [ $1 -eq 3 ]; then echo 'no good' >&2; exit 7; fi; echo ok-$1", "_"]
            let run = try env.batch(["run", "--json"] + command, input: "1\n2\n3\n4\n5\n")
            #expect(run.status == 1)
            let records = Self.jsonLines(run.out)
            #expect(records.map { $0["line"] as? Int } == [1, 2, 3, 4, 5], "the failed item keeps its place")
            #expect(records[2]["status"] as? String == "failed")
            #expect(records[2]["exit_status"] as? Int == 7)
            #expect(records[2]["error"] as? String == "no good\n")
            #expect(records[3]["output"] as? String == "ok-4\n", "the rest of the chunk still ran")
            let id = try #require(try env.store().jobsList(limit: 1).first?.id)
            let status = try env.batch(["status", "--json", id.description])
            let summary = try #require(Self.jsonLines(status.out).first)
            #expect(summary["failed"] as? Int == 1)
            #expect(summary["succeeded"] as? Int == 4)
            let failures = summary["failures"] as? [[String: Any]] ?? []
            #expect(failures.first?["line"] as? Int == 3)
            #expect(failures.first?["reason"] as? String == "exit status 7: no good")
            #expect((summary["rate_per_second"] as? Double ?? 0) > 0, "5 items finished within the last minute")
            #expect(summary["daemons"] as? [Int] == [], "a finished job is held by no daemon")
            let text = try env.batch(["status", id.description])
            #expect(text.out.contains("failed:   line 3: exit status 7: no good"), "\(text.out)")
        }

        @Test func retriesRunOnlyTheFailedItemAgain() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            // Every run appends its line to runs.log; line 2 fails on its first two runs.
            let script = """
                echo $1 >> runs.log
                if [ $1 -eq 2 ] && [ $(grep -cx 2 runs.log) -le 2 ]; then exit 1; fi
                echo ok-$1
                """
            let run = try env.batch(
                ["run", "--json", "--chunksize", "3", "--retries", "3", "--retry-delay", "20ms", "--", "sh", "-c", script, "_"],
                input: "1\n2\n3\n")
            #expect(run.status == 0, "\(run.err)")
            let records = Self.jsonLines(run.out)
            #expect(records.map { $0["attempts"] as? Int } == [1, 3, 1])
            let jobID = try #require(try env.store().jobsList(limit: 1).first?.id)
            let status = try #require(Self.jsonLines(try env.batch(["status", "--json", jobID.description]).out).first)
            #expect(status["attempts"] as? Int == 5)
            #expect(status["retried"] as? Int == 1)
            #expect(status["claimed"] as? Int == 0)
            #expect(records.map { $0["output"] as? String } == ["ok-1\n", "ok-2\n", "ok-3\n"])
            let runs = try String(contentsOfFile: env.directory.file("runs.log"), encoding: .utf8).split(separator: "\n")
            #expect(runs.sorted() == ["1", "2", "2", "2", "3"], "items 1 and 3 ran once")

            let exhausted = try env.batch(["run", "--json", "--retries", "1", "--retry-delay", "10ms", "--", "false"], input: "x\n")
            #expect(exhausted.status == 1)
            #expect(Self.jsonLines(exhausted.out).first?["attempts"] as? Int == 2)
        }

        @Test func timeoutKillsTheWholeProcessGroup() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let marker = env.directory.file("late")
            let started = env.directory.file("started")
            let run = try env.batch(
                ["run", "--timeout", "300ms", "--", "sh", "-c", "touch \(started); sleep 2 && touch \(marker)", "_"], input: "1\n")
            #expect(run.status == 1)
            #expect(run.err.contains("line 1 failed: timed out after 0.3 s"), "\(run.err)")
            // The command did start: the marker's absence below means something.
            #expect(FileManager.default.fileExists(atPath: started))
            usleep(2_500_000)
            #expect(!FileManager.default.fileExists(atPath: marker), "the command's child (sleep) was killed too")
        }

        @Test func percentageTimeoutIsRelativeToTheMedian() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "1"])
            let input = (1...8).map { _ in "0.05\n" }.joined() + "5\n"
            let run = try env.batch(
                ["run", "--json", "--chunksize", "1", "--timeout", "400%", "--", "sh", "-c", "sleep $1; echo done", "_"],
                input: input)
            #expect(run.status == 1)
            let records = Self.jsonLines(run.out)
            #expect(records.prefix(8).allSatisfy { $0["status"] as? String == "succeeded" })
            #expect(records.last?["status"] as? String == "failed")
            #expect((records.last?["reason"] as? String)?.hasPrefix("timed out") == true)
        }

        @Test func haltNowKillsRunningItemsAndStopsTheJob() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let run = try env.batch(
                ["run", "--chunksize", "1", "--halt", "now,fail=2", "--", "sh", "-c", "if [ $1 -le 2 ]; then exit 1; fi; sleep 20; echo $1", "_"],
                input: (1...10).map { "\($0)\n" }.joined(), timeout: 15)
            #expect(run.status == 5, "\(run.err)")
            #expect(run.err.contains("now,fail=2"))
            let job = try #require(try env.store().jobsList(limit: 1).first)
            #expect(job.state == .failed)
            #expect(job.failedCount == 2)
            #expect(job.succeededCount == 0, "running items were killed, not finished")
        }

        @Test func haltSoonLetsRunningItemsFinish() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let run = try env.batch(
                // Item 2 fails only once item 1 runs (lines are claimed in order, so
                // item 1's slot holds it): otherwise a slot slow to claim (in a
                // backoff, say) would find the job halted and item 1 never started.
                ["run", "--chunksize", "1", "--halt", "soon,fail=1", "--", "sh", "-c",
                 "if [ $1 -eq 2 ]; then n=0; while [ ! -e started-1 ] && [ $n -lt 3000 ]; do sleep 0.01; n=$((n+1)); done; exit 1; fi; touch started-$1; sleep 1; echo ok-$1", "_"],
                input: (1...10).map { "\($0)\n" }.joined())
            #expect(run.status == 5, "\(run.err)")
            let job = try #require(try env.store().jobsList(limit: 1).first)
            #expect(job.state == .failed)
            let results = try env.store().resultsByLine(job: job.id, afterLine: 0, limit: 20)
            #expect(results.map(\.line) == [1, 2], "item 1 was running and finished; nothing new started")
            #expect(results.first?.outcome.output == Data("ok-1\n".utf8))
        }

        @Test func oversizedOutputStopsTheCommand() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let run = try env.batch(["run", "--max-output", "1K", "--", "yes"], input: "x\n", timeout: 30)
            #expect(run.status == 1)
            #expect(run.err.contains("output exceeded the limit of 1024 bytes"), "\(run.err)")
        }

        @Test func retryCommandRerunsOnlyFailures() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            // Items fail until their "fixed-N" file exists.
            let script = "echo $1 >> runs.log; [ -e fixed-$1 ] || exit 1; echo ok-$1"
            // Fixed before submitting: the daemon may run an item before `submit` returns.
            for n in [1, 3, 5] { _ = FileManager.default.createFile(atPath: env.directory.file("fixed-\(n)"), contents: nil) }
            let submitted = try env.batch(["submit", "--", "sh", "-c", script, "_"], input: (1...6).map { "\($0)\n" }.joined())
            let id = submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)
            let first = try env.batch(["wait", id])
            #expect(first.status == 1)
            #expect(first.out == "ok-1\nok-3\nok-5\n")
            let running = try env.batch(["retry", id, "--items", "abc"])
            #expect(running.status == 64)
            for n in [2, 4] { _ = FileManager.default.createFile(atPath: env.directory.file("fixed-\(n)"), contents: nil) }
            let partial = try env.batch(["retry", id, "--items", "2-4"])
            #expect(partial.status == 0, "\(partial.err)")
            let second = try env.batch(["wait", id])
            #expect(second.status == 1, "line 6 still fails")
            #expect(second.out == "ok-1\nok-2\nok-3\nok-4\nok-5\n")
            _ = FileManager.default.createFile(atPath: env.directory.file("fixed-6"), contents: nil)
            #expect(try env.batch(["retry", id]).status == 0)
            let third = try env.batch(["wait", id])
            #expect(third.status == 0)
            #expect(third.out == (1...6).map { "ok-\($0)\n" }.joined(), "the ordered stream is complete")
            let runs = try String(contentsOfFile: env.directory.file("runs.log"), encoding: .utf8).split(separator: "\n")
            #expect(runs.sorted() == ["1", "2", "2", "3", "4", "4", "5", "6", "6"], "succeeded items never ran again")
            let nothing = try env.batch(["retry", id])
            #expect(nothing.status == 4)
        }
    }
}
