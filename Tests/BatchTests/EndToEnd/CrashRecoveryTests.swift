import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// SIGKILLs of the daemon, the submitter and a follower in the middle of a
    /// job: the job finishes with every item's result recorded exactly once,
    /// and every stream prints each item exactly once.
    @Suite struct CrashRecovery {
        static let command = ["--", "sh", "-c", "sleep 0.02; echo \"out-$1\"", "_"]

        static func input(_ count: Int) -> String { (1...count).map { "\($0)\n" }.joined() }
        static func expected(_ count: Int) -> [String] { (1...count).map { "out-\($0)" } }

        func submit(_ env: BatchEnvironment, _ count: Int, extra: [String] = []) throws -> JobID {
            let result = try env.batch(["submit"] + extra + Self.command, input: Self.input(count))
            try #require(result.status == 0, "\(result.err)")
            return try #require(JobID(parsing: result.out.trimmingCharacters(in: .whitespacesAndNewlines)))
        }

        /// Checks the store: every line has exactly one result, and it is right.
        func checkRecorded(_ env: BatchEnvironment, _ id: JobID, count: Int) throws {
            let results = try env.store().resultsByLine(job: id, afterLine: 0, limit: count + 10)
            #expect(results.map(\.line) == (1...Int64(count)).map { $0 })
            #expect(results.map { String(decoding: $0.outcome.output, as: UTF8.self) } == Self.expected(count).map { $0 + "\n" })
            #expect(Set(results.map(\.sequence)) == Set(1...Int64(count)))
        }

        @Test func killedDaemonsWorkIsTakenBackAtOnce() throws {
            let env = BatchEnvironment()
            // Leases of ten minutes: a recovery that waited for them would blow the test's time limit.
            let first = try env.startDaemon(["--workers", "2", "--lease", "10m"])
            let count = 150
            let id = try submit(env, count)
            let ordered = try env.start(["follow", id.description])
            let unordered = try env.start(["follow", "--unordered", id.description])
            let store = try env.store()
            try #require(try TestProcess.eventually { try store.jobFetch(id)!.finishedCount >= 20 })
            first.signal(SIGKILL)
            first.wait()
            #expect(try store.jobFetch(id)!.state == .sealed, "the job was still running when its daemon died")
            let restarted = Date()
            try env.startDaemon(["--workers", "2", "--lease", "10m"])
            let job = try env.waitForJobEnd(id, timeout: 120)
            #expect(job?.state == .complete)
            #expect(Date().timeIntervalSince(restarted) < 120)
            try checkRecorded(env, id, count: count)
            #expect(ordered.wait() == 0, "\(ordered.stderrText)")
            #expect(ordered.lines.map(\.text) == Self.expected(count))
            #expect(unordered.wait() == 0, "\(unordered.stderrText)")
            #expect(unordered.lines.count == count)
            #expect(Set(unordered.lines.map(\.text)) == Set(Self.expected(count)))
            let waited = try env.batch(["wait", id.description])
            #expect(waited.status == 0)
            #expect(waited.out == Self.expected(count).map { $0 + "\n" }.joined())
        }

        @Test func twoDaemonsShareOneJob() throws {
            let env = BatchEnvironment()
            let first = try env.startDaemon(["--workers", "2"])
            let second = try env.startDaemon(["--workers", "2"])
            let count = 300
            let id = try submit(env, count, extra: ["--chunksize", "5"])
            #expect(try env.waitForJobEnd(id)?.state == .complete)
            try checkRecorded(env, id, count: count)
            #expect(try env.store().daemonsList().count == 2)
            #expect(first.isRunning && second.isRunning)
        }

        @Test func killedSubmitterIsResumedFromTheSameInput() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let submitter = try env.start(["submit"] + Self.command, keepInputOpen: true)
            submitter.write(Self.input(40))
            let store = try env.store()
            try #require(try TestProcess.eventually { try store.jobsList(limit: 1).first?.itemCount == 40 })
            submitter.signal(SIGKILL)
            submitter.wait()
            let id = try #require(JobID(parsing: submitter.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(try store.jobFetch(id)?.state == .open)

            // A different input is refused, and changes nothing.
            let wrong = try env.batch(["submit", "--resume", id.description], input: "x\n" + Self.input(99))
            #expect(wrong.status == 65)
            #expect(wrong.err.contains("line 40"), "\(wrong.err)")
            #expect(try store.jobFetch(id)?.itemCount == 40)

            let resumed = try env.batch(["submit", "--resume", id.description], input: Self.input(100))
            #expect(resumed.status == 0, "\(resumed.err)")
            let waited = try env.batch(["wait", id.description])
            #expect(waited.status == 0, "\(waited.err)")
            #expect(waited.out == Self.expected(100).map { $0 + "\n" }.joined())
            try checkRecorded(env, id, count: 100)

            let again = try env.batch(["submit", "--resume", id.description], input: Self.input(100))
            #expect(again.status == 4, "a sealed job cannot be resumed: \(again.err)")
        }

        @Test(arguments: [false, true])
        func killedFollowerResumesWithoutRepeatsOrGaps(unordered: Bool) throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let count = 80
            let id = try submit(env, count)
            let mode = unordered ? ["--unordered"] : []
            let follower = try env.start(["follow", "--json"] + mode + [id.description])
            try #require(TestProcess.eventually { follower.lines.count >= 10 })
            follower.signal(SIGKILL)
            follower.wait()
            let firstPart = try follower.lines.map { try JSONSerialization.jsonObject(with: Data($0.text.utf8)) as! [String: Any] }
            let cursor = try #require(firstPart.last?["cursor"] as? Int)
            let rest = try env.start(["follow", "--json", "--from", String(cursor)] + mode + [id.description])
            #expect(rest.wait() == 0, "\(rest.stderrText)")
            let secondPart = try rest.lines.map { try JSONSerialization.jsonObject(with: Data($0.text.utf8)) as! [String: Any] }
            let lines = (firstPart + secondPart).map { $0["line"] as! Int }
            #expect(lines.count == count, "each item exactly once")
            #expect(Set(lines) == Set(1...count))
            if !unordered { #expect(lines == Array(1...count)) }
            // The stream is the same on every read: a full read now matches the resumed one.
            let full = try env.batch(["follow", "--json"] + mode + [id.description])
            let fullLines = full.out.split(separator: "\n").map {
                (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["line"] as! Int
            }
            #expect(fullLines == lines)
        }

        @Test func gracefulStopHandsBackUnfinishedWork() throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon(["--workers", "2", "--grace", "5s", "--lease", "10m"])
            let result = try env.batch(["submit", "--chunksize", "3", "--", "sh", "-c", "sleep 0.2; echo $1", "_"], input: Self.input(12))
            let id = try #require(JobID(parsing: result.out.trimmingCharacters(in: .whitespacesAndNewlines)))
            let store = try env.store()
            try #require(try TestProcess.eventually { try store.jobFetch(id)!.finishedCount >= 1 })
            daemon.signal(SIGTERM)
            #expect(daemon.wait(timeout: 30) == 0, "\(daemon.stderrText)")
            let stopped = try #require(try store.jobFetch(id))
            #expect(stopped.state == .sealed)
            #expect(try store.daemonsList().isEmpty, "a stopped daemon removes its record")
            try env.startDaemon(["--workers", "2", "--lease", "10m"])
            #expect(try env.waitForJobEnd(id, timeout: 60)?.state == .complete)
            let waited = try env.batch(["wait", id.description])
            #expect(waited.out == (1...12).map { "\($0)\n" }.joined())
        }
    }
}
