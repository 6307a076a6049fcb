import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// Followers never wait in silence, and Ctrl-C says what happens
    /// (issues 9 and 19).
    @Suite struct FollowerSafety {
        func jobID(_ text: String) throws -> JobID {
            try #require(JobID(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }

        /// The environment with autostart on, as a user has it.
        func autostarting(_ env: BatchEnvironment) -> [String: String] {
            var environment = env.environment
            environment.removeValue(forKey: "BATCH_NO_AUTOSTART")
            return environment
        }

        @Test func aFollowerStartsANewDaemonWhenItsDaemonIsKilled() throws {
            let env = BatchEnvironment()
            let store = try env.store()
            let run = try env.start(["run", "--chunksize", "1", "--", "sh", "-c", "sleep 0.1; echo $1", "_"],
                                    input: (1...30).map { "\($0)\n" }.joined(), environment: autostarting(env))
            defer { _ = try? env.batch(["daemon", "stop"]) }
            try #require(TestProcess.eventually(timeout: 30) { run.lines.count >= 3 }, "\(run.stderrText)")
            let first = try #require(try store.daemonsList().first)
            kill(first.pid, SIGKILL)
            let status = run.wait(timeout: 60)
            #expect(status == 0, "the follower must not hang: \(run.stderrText)")
            #expect(run.lines.map(\.text) == (1...30).map { "\($0)" })
            #expect(run.stderrText.contains("started one"), "\(run.stderrText)")
            #expect(try store.daemonsList().contains { $0.pid != first.pid })
        }

        @Test func withoutAutostartAWaitingFollowerSaysSoOnce() throws {
            let env = BatchEnvironment()
            let id = try jobID(try env.batch(["submit", "--", "echo"], input: "1\n2\n").out)
            let wait = try env.start(["wait", id.description])
            let warned = TestProcess.eventually(timeout: 30) { wait.stderrText.contains("no daemon serves") }
            #expect(warned, "\(wait.stderrText)")
            try env.startDaemon()
            #expect(wait.wait(timeout: 30) == 0)
            #expect(wait.stdoutText == "1\n2\n")
            #expect(wait.stderrText.components(separatedBy: "no daemon serves").count == 2, "once: \(wait.stderrText)")
        }

        @Test func interruptingRunCancelsTheJobAndSaysHowToRunTheRest() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let store = try env.store()
            let run = try env.start(["run", "--chunksize", "1", "--", "sh", "-c", "[ $1 = 1 ] || sleep 30; echo $1", "_"],
                                    input: "1\n2\n3\n4\n")
            try #require(TestProcess.eventually(timeout: 30) { run.lines.count == 1 })
            let id = try #require(try store.jobsList(limit: 1).first?.id)
            try #require(TestProcess.eventually(timeout: 30) { try store.itemCounts(job: id).claimed > 0 })
            run.signal(SIGINT)
            #expect(run.wait(timeout: 30) == 130)
            #expect(run.stderrText.contains("job \(id) cancelled with 1 of 4 items finished"), "\(run.stderrText)")
            #expect(run.stderrText.contains("batch retry \(id)"), "\(run.stderrText)")
            #expect(try store.jobFetch(id)?.state == .cancelled)
            #expect(try store.chunksLeasedList().isEmpty)
        }

        @Test func interruptingFollowDetachesAndNamesTheCursor() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let id = try jobID(try env.batch(
                ["submit", "--chunksize", "1", "--", "sh", "-c", "[ $1 -le 3 ] || sleep 30; echo $1", "_"],
                input: "1\n2\n3\n4\n5\n").out)
            let follow = try env.start(["follow", id.description])
            try #require(TestProcess.eventually(timeout: 30) { follow.lines.count == 3 })
            follow.signal(SIGINT)
            #expect(follow.wait(timeout: 30) == 130)
            #expect(follow.stderrText.contains("stopped at cursor 3"), "\(follow.stderrText)")
            #expect(follow.stderrText.contains("batch follow \(id) --from 3"), "\(follow.stderrText)")
            #expect(try env.store().jobFetch(id)?.state == .sealed, "the job goes on")
            _ = try env.batch(["cancel", id.description])
        }

        /// Cancelled while its input still arrives: exit 2, as any cancelled
        /// job, not 4 with "its input is complete".
        @Test func cancellingWhileInputArrivesExitsAsCancelled() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let store = try env.store()
            for (index, command) in ["run", "submit"].enumerated() {
                let process = try env.start([command, "--", "echo"], keepInputOpen: true)
                process.write("1\n2\n")
                try #require(TestProcess.eventually(timeout: 30) {
                    let jobs = try store.jobsList(limit: 10)
                    return jobs.count == index + 1 && jobs[0].itemCount == 2 && jobs[0].finishedCount == 2
                })
                let id = try #require(try store.jobsList(limit: 1).first?.id)
                #expect(try env.batch(["cancel", id.description]).status == 0)
                process.write("3\n")
                process.closeInput()
                #expect(process.wait(timeout: 30) == 2, "\(command): \(process.stderrText)")
                #expect(!process.stderrText.contains("input is complete"), "\(process.stderrText)")
                #expect(process.stderrText.contains("cancelled"), "\(process.stderrText)")
            }
        }
    }
}
