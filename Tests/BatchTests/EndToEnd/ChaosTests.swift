import BatchStore
import Foundation
import Testing

/// A small, seedable random generator, so a chaos run can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension EndToEnd {
    /// Two daemons share one database while, for several seconds, a random
    /// daemon or one of their commands is SIGKILLed (daemons are restarted),
    /// and the submitter is SIGKILLed once and resumed. Afterwards every item
    /// has exactly one correct result, `wait` prints them all in order, and a
    /// follower that ran through it all printed each once.
    ///
    /// Replay a run with BATCH_CHAOS_SEED=N (printed on failure); make it
    /// longer with BATCH_CHAOS_SECONDS.
    @Suite struct Chaos {
        @Test func jobSurvivesRandomKills() throws {
            let settings = ProcessInfo.processInfo.environment
            let seed = settings["BATCH_CHAOS_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...1_000_000)
            let seconds = settings["BATCH_CHAOS_SECONDS"].flatMap(Double.init) ?? 6
            var random = SplitMix64(seed: seed)
            let replay = Comment(rawValue: "replay with BATCH_CHAOS_SEED=\(seed)")
            let count = 3000
            let env = BatchEnvironment()
            let daemonArguments = ["--workers", "2", "--lease", "10m"]
            var daemons = [try env.startDaemon(daemonArguments), try env.startDaemon(daemonArguments)]

            let command = ["--retries", "20", "--retry-delay", "10ms", "--", "sh", "-c", "[ $(($1 % 7)) -eq 0 ] && sleep 0.05; echo r-$1", "_"]
            let input = (1...count).map { "\($0)\n" }.joined()
            let submitter = try env.start(["submit"] + command, keepInputOpen: true)
            let store = try env.store()
            // Feed the input in pieces and kill the submitter part-way through.
            let pieces = 10
            let killAfter = Int.random(in: 2...7, using: &random)
            let lines = input.split(separator: "\n", omittingEmptySubsequences: false)
            for piece in 0..<killAfter {
                let slice = lines[(piece * count / pieces)..<((piece + 1) * count / pieces)]
                submitter.write(slice.joined(separator: "\n") + "\n")
                usleep(100_000)
            }
            try #require(TestProcess.eventually { !submitter.stdoutText.isEmpty }, replay)
            let id = try #require(JobID(parsing: submitter.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)), replay)
            submitter.signal(SIGKILL)
            submitter.wait()
            let follower = try env.start(["follow", id.description])
            let resumer = try env.start(["submit", "--resume", id.description], input: input)

            let end = Date().addingTimeInterval(seconds)
            var kills = (daemons: 0, commands: 0)
            while Date() < end {
                usleep(UInt32.random(in: 150_000...400_000, using: &random))
                let victim = Int.random(in: 0..<daemons.count, using: &random)
                if Int.random(in: 0..<10, using: &random) < 4 {
                    daemons[victim].signal(SIGKILL)
                    daemons[victim].wait()
                    daemons[victim] = try env.startDaemon(daemonArguments)
                    kills.daemons += 1
                } else if let child = Self.children(of: daemons[victim].pid).randomElement(using: &random) {
                    kill(child, SIGKILL)
                    kills.commands += 1
                }
            }
            #expect(resumer.wait() == 0, "resumed submitter: \(resumer.stderrText); \(replay)")
            let job = try env.waitForJobEnd(id, timeout: 180)
            #expect(job?.state == .complete, replay)
            #expect(job?.failedCount == 0, replay)
            let results = try store.resultsByLine(job: id, afterLine: 0, limit: count + 10)
            #expect(results.map(\.line) == (1...Int64(count)).map { $0 }, replay)
            #expect(results.allSatisfy { $0.outcome.output == Data("r-\($0.line)\n".utf8) }, replay)
            let expected = (1...count).map { "r-\($0)\n" }.joined()
            let waited = try env.batch(["wait", id.description])
            #expect(waited.status == 0, replay)
            #expect(waited.out == expected, replay)
            #expect(follower.wait(timeout: 60) == 0, "follower: \(follower.stderrText); \(replay)")
            #expect(follower.stdoutText == expected, "the follower printed each item once, in order; \(replay)")
            #expect(kills.daemons + kills.commands > 5, "the chaos did happen: \(kills); \(replay)")
        }

        /// The direct children of a process (the daemon's running commands).
        static func children(of pid: Int32) -> [Int32] {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return tasks.flatMap { task -> [Int32] in
                let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
                return text.split(separator: " ").compactMap { Int32($0) }
            }
        }
    }
}

extension EndToEnd {
    /// Issue 9, case 2: a stream job stopped for good under heavy load with
    /// its live daemon holding chunks that no worker ran. Claims are hammered
    /// here under CPU load (more busy loops than cores, more slots than
    /// cores, small chunks) while the job is cancelled and retried over and
    /// over: no chunk may stay leased with no worker on it.
    @Suite struct ClaimStress {
        @Test func noChunkStaysHeldWithoutAWorkerUnderLoad() throws {
            let env = BatchEnvironment()
            let burners = try (0..<4).map { _ in
                try TestProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "while :; do :; done"], environment: [:])
            }
            defer { for burner in burners { burner.signal(SIGKILL); burner.wait(timeout: 10) } }
            let daemon = try env.startDaemon(["--workers", "6"])
            let store = try env.store()
            let count = 40_000
            let stream = try #require(JobID(parsing: try env.batch(
                ["submit", "--stream", "--chunksize", "50", "--", "cat"],
                input: (1...count).map { "\($0)\n" }.joined()).out.trimmingCharacters(in: .whitespacesAndNewlines)))
            let perItem = try #require(JobID(parsing: try env.batch(
                ["submit", "--chunksize", "3", "--", "echo"],
                input: (1...300).map { "\($0)\n" }.joined()).out.trimmingCharacters(in: .whitespacesAndNewlines)))
            for round in 0..<4 {
                usleep(UInt32(200_000 + round * 100_000))
                for id in [stream, perItem] where try store.jobFetch(id)?.state.isRunnable == true {
                    _ = try env.batch(["cancel", id.description])
                    #expect(try store.chunksLeasedList().allSatisfy { $0.job != id }, "a cancelled job holds no chunk")
                    _ = try env.batch(["retry", id.description])
                }
            }
            for id in [stream, perItem] {
                let job = try env.waitForJobEnd(id, timeout: 300)
                #expect(job?.state == .complete, "job \(id) stopped short: \(String(describing: job)) \(daemon.stderrText.suffix(2000))")
                #expect(job?.failedCount == 0)
            }
            #expect(try store.resultsByLine(job: stream, afterLine: 0, limit: count + 1).map(\.line) == (1...Int64(count)).map { $0 })
            #expect(try store.chunksLeasedList().isEmpty)
            #expect(!daemon.stderrText.contains("no worker on them"), "a path claimed without running: \(daemon.stderrText.suffix(2000))")
        }
    }
}
