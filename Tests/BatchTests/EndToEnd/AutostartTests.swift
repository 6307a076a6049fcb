import BatchStore
import Foundation
import Testing

extension EndToEnd {
    @Suite struct Autostart {
        @Test func runStartsADaemonWhenNoneServes() throws {
            let env = BatchEnvironment()
            var environment = env.environment
            environment.removeValue(forKey: "BATCH_NO_AUTOSTART")
            let run = try env.start(["run", "--", "echo"], input: (1...10).map { "\($0)\n" }.joined(), environment: environment)
            let status = run.wait(timeout: 60)
            let daemons = try env.store().daemonsList()
            // The store is named in the daemon's environment, not its argv, where
            // `ps` would show a network store's address to every user.
            let argv = daemons.map { (try? String(contentsOfFile: "/proc/\($0.pid)/cmdline", encoding: .utf8)) ?? "" }
            for daemon in daemons { kill(daemon.pid, SIGKILL) }
            #expect(argv.allSatisfy { !$0.isEmpty && !$0.contains(env.dbPath) }, "\(argv)")
            let log = (try? String(contentsOfFile: env.dbPath + "-batchd.log", encoding: .utf8)) ?? "(no daemon log)"
            #expect(status == 0, "daemon log: \(log)")
            #expect(status == 0, "\(run.stderrText)")
            #expect(run.stdoutText == (1...10).map { "\($0)\n" }.joined())
            #expect(daemons.count == 1)
            let mode = try FileManager.default.attributesOfItem(atPath: env.dbPath)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }

        /// Commands started together start one daemon between them (a
        /// `submit` and a `follow` of a script each started one).
        @Test func commandsStartedTogetherStartOneDaemon() throws {
            let env = BatchEnvironment()
            var environment = env.environment
            environment.removeValue(forKey: "BATCH_NO_AUTOSTART")
            let runs = try (1...4).map { _ in
                try env.start(["run", "--", "echo"], input: "1\n2\n", environment: environment)
            }
            let statuses = runs.map { $0.wait(timeout: 60) }
            let daemons = try env.store().daemonsList()
            for daemon in daemons { kill(daemon.pid, SIGKILL) }
            #expect(statuses == [0, 0, 0, 0], "\(runs.map(\.stderrText))")
            #expect(daemons.count == 1, "\(daemons.map(\.pid))")
        }

        @Test func noAutostartLeavesTheJobWaiting() throws {
            let env = BatchEnvironment()
            let result = try env.batch(["wait", "--timeout", "300ms", try submitOne(env)])
            #expect(result.status == 124)
            #expect(result.err.contains("still running"))
            #expect(try env.store().daemonsList().isEmpty)
        }

        func submitOne(_ env: BatchEnvironment) throws -> String {
            let submitted = try env.batch(["submit", "--", "echo"], input: "x\n")
            return submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
