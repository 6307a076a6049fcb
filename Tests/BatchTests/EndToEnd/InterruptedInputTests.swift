import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// Open jobs that nobody will ever finish (issue 9): a job whose submitter
    /// died shows as "input interrupted", with the commands that finish it,
    /// and does not keep an idle daemon alive.
    @Suite struct InterruptedInput {
        static func json(_ text: String) -> [String: Any]? {
            try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        }

        @Test func aJobWhoseSubmitterDiedShowsAsInterruptedAndLetsAnIdleDaemonExit() throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon(["--workers", "1", "--idle-exit", "1s"])
            let submit = try env.start(["submit", "--", "echo"], keepInputOpen: true)
            submit.write("1\n2\n")
            let store = try env.store()
            try #require(TestProcess.eventually(timeout: 30) {
                try store.jobsList(limit: 1).first.map { $0.itemCount == 2 && $0.finishedCount == 2 } == true
            })
            let id = try #require(try store.jobsList(limit: 1).first?.id)
            let live = try #require(Self.json(try env.batch(["status", "--json", id.description]).out))
            #expect(live["input_interrupted"] as? Bool == false, "its submitter is alive")
            #expect(daemon.isRunning, "an open job with a live submitter keeps the daemon")

            submit.signal(SIGKILL)
            submit.wait(timeout: 10)
            let status = try env.batch(["status", id.description])
            #expect(status.out.contains("open, input interrupted"), "\(status.out)")
            #expect(status.out.contains("batch submit --resume \(id)"), "\(status.out)")
            #expect(status.out.contains("batch cancel \(id)"))
            let summary = try #require(Self.json(try env.batch(["status", "--json", id.description]).out))
            #expect(summary["input_interrupted"] as? Bool == true)
            #expect(summary["state"] as? String == "open", "the state's name is unchanged for scripts")
            #expect(try env.batch(["list"]).out.contains("interrupted"))
            #expect(daemon.wait(timeout: 30) == 0, "the idle daemon exits: \(daemon.stderrText)")

            // Resumed, the job is no longer interrupted and completes.
            try env.startDaemon(["--workers", "1"])
            let resumed = try env.batch(["submit", "--resume", id.description], input: "1\n2\n3\n")
            #expect(resumed.status == 0, "\(resumed.err)")
            #expect(try env.waitForJobEnd(id, timeout: 30)?.state == .complete)
        }
    }
}
