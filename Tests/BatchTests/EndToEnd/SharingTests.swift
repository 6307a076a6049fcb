import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// Many jobs on one service (issue 11), through the real binaries: fair
    /// share, priorities, rate limits and what `status` says about a waiting
    /// job. Timings are asserted as order and proportions, with wide margins.
    @Suite struct Sharing {
        static func lines(_ count: Int) -> String { (1...count).map(String.init).joined(separator: "\n") + "\n" }

        func submit(_ env: BatchEnvironment, _ arguments: [String], _ count: Int) throws -> JobID {
            let submitted = try env.batch(["submit"] + arguments, input: Self.lines(count))
            return try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)), "\(submitted.err)")
        }

        @Test func aShortJobBehindALongOneDoesNotWaitForIt() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let long = try submit(env, ["--", "sh", "-c", "sleep 0.1", "_"], 80)
            _ = try TestProcess.eventually { try env.store().jobFetch(long)!.finishedCount >= 2 }
            let short = try env.batch(["run", "--", "echo"], input: "a\nb\n")
            #expect(short.status == 0 && short.out == "a\nb\n", "\(short.err)")
            let longNow = try #require(try env.store().jobFetch(long))
            // 80 items of 0.1 s on 2 workers take 4 s: the short job ended long before.
            #expect(longNow.finishedCount < 60, "the short job waited for most of the long one: \(longNow.finishedCount) of 80 were done")
        }

        @Test func twoEqualJobsShareTheWorkers() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let first = try submit(env, ["--", "sh", "-c", "sleep 0.05", "_"], 60)
            let second = try submit(env, ["--", "sh", "-c", "sleep 0.05", "_"], 60)
            _ = try TestProcess.eventually(timeout: 60) { try env.store().jobFetch(first)!.state.isFinal }
            let other = try #require(try env.store().jobFetch(second))
            // Equal shares: the second is about as far as the first (an
            // oldest-first claim would have left it near 0).
            #expect(other.finishedCount >= 35, "the second job had \(other.finishedCount) of 60 done when the first ended")
        }

        @Test func aHigherPriorityTakesTheWorkersAtTheNextChunk() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let low = try submit(env, ["--", "sh", "-c", "sleep 0.2", "_"], 40)
            _ = try TestProcess.eventually { try env.store().jobFetch(low)!.finishedCount >= 2 }
            let high = try submit(env, ["--priority", "5", "--", "sh", "-c", "sleep 0.2", "_"], 8)
            let ended = try #require(try env.waitForJobEnd(high, timeout: 60))
            #expect(ended.state == .complete)
            let highResults = try env.store().resultsByLine(job: high, afterLine: 0, limit: 100)
            let start = try #require(highResults.map(\.outcome.startedAt).min())
            let end = try #require(highResults.map(\.outcome.finishedAt).max())
            let lowDuring = try env.store().resultsByLine(job: low, afterLine: 0, limit: 100)
                .filter { $0.outcome.startedAt > start && $0.outcome.startedAt < end }
            // Only what was already claimed when it arrived (about one item per worker) ran beside it.
            #expect(lowDuring.count <= 2, "\(lowDuring.count) items of the lower job started while the higher one ran")
            let status = try env.batch(["status", low.description]).out
            #expect(status.contains("priority 0"), "\(status)")
            // `batch priority` on a running job.
            #expect(try env.batch(["priority", low.description, "3"]).status == 0)
            #expect(try env.store().jobFetch(low)?.spec.priority == 3)
            #expect(try env.batch(["priority", high.description, "1"]).status == 4, "an ended job has no priority to change")
        }

        @Test func aRateLimitHoldsAcrossDaemons() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            try env.startDaemon(["--workers", "2"])
            let run = try env.batch(["run", "--rate", "5/s", "--", "sh", "-c", "date +%s.%N", "_"], input: Self.lines(20))
            #expect(run.status == 0, "\(run.err)")
            let starts = run.out.split(separator: "\n").compactMap { Double($0) }.sorted()
            try #require(starts.count == 20)
            // 20 starts at 5 a second span about 3.8 s, on however many workers.
            #expect(starts.last! - starts.first! > 3.0, "20 items started within \(starts.last! - starts.first!) s")
            #expect(try env.batch(["run", "--rate", "fast", "--", "echo"], input: "").status == 64)
        }

        @Test func aStreamProcessHandsOverToAHigherPriority() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let script = "while read x; do sleep 0.01; echo $x; done"
            let low = try submit(env, ["--stream", "--", "sh", "-c", script], 1500)
            _ = try TestProcess.eventually { try env.store().jobFetch(low)!.finishedCount >= 50 }
            let high = try submit(env, ["--stream", "--priority", "1", "--", "sh", "-c", script], 100)
            let ended = try #require(try env.waitForJobEnd(high, timeout: 60))
            #expect(ended.state == .complete)
            // 1,500 items of 10 ms on 2 workers take 7.5 s; the higher job did not wait
            // for that, nor for chunks as large as allowed (about 850 items done when it
            // ended, before chunks were sized from the whole chunk's time; about 250 now).
            #expect(try env.store().jobFetch(low)!.finishedCount < 600)
        }

        @Test func statusSaysWhyAJobWaits() throws {
            let env = BatchEnvironment()
            let id = try submit(env, ["--", "echo"], 3)
            let alone = try #require(Failures.jsonLines(try env.batch(["status", "--json", id.description]).out).first)
            #expect((alone["waiting"] as? String)?.contains("no daemon") == true, "\(alone)")
            try env.startDaemon(["--workers", "1"])
            let high = try submit(env, ["--priority", "2", "--", "sh", "-c", "sleep 0.3", "_"], 20)
            let low = try submit(env, ["--", "echo"], 3)
            _ = try TestProcess.eventually { try env.store().jobFetch(high)!.finishedCount >= 1 }
            let text = try env.batch(["status", low.description]).out
            #expect(text.contains("waiting:  jobs of a higher priority have the workers"), "\(text)")
            let list = try env.batch(["list"]).out
            #expect(list.contains("(waiting: jobs of a higher priority have the workers)"), "\(list)")
            #expect(try env.batch(["cancel", high.description]).status == 0)
        }
    }
}
