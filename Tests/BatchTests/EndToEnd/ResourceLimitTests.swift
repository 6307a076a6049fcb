import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// Out of descriptors or processes (issue 19): the daemon's faults, not
    /// the items'. Limits are set with `ulimit` in a shell that execs batchd.
    @Suite struct ResourceLimits {
        /// Starts batchd under `limits` (shell `ulimit` commands), optionally as nobody.
        func daemon(_ env: BatchEnvironment, limits: String, arguments: [String], asNobody: Bool = false) throws -> TestProcess {
            var command = ["/bin/bash", "-c", "\(limits); db=\"$1\"; shift; exec \"$0\" --db \"$db\" \"$@\"", Binaries.batchd.path, env.dbPath] + arguments
            if asNobody { command = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + command }
            let process = try TestProcess(URL(fileURLWithPath: command[0]), Array(command.dropFirst()), environment: env.environment)
            process.closeInput()
            try #require(TestProcess.eventually(timeout: 30) { try env.store().daemonsList().contains { $0.pid == process.pid } },
                         "\(process.stderrText)")
            return process
        }

        @Test func tooManyWorkersForTheDescriptorLimitAreLoweredAndEveryItemRuns() throws {
            let env = BatchEnvironment()
            let stream = try daemon(env, limits: "ulimit -n 256", arguments: ["--workers", "64"])
            defer { stream.signal(SIGKILL); stream.wait(timeout: 10) }
            #expect(stream.stderrText.contains("--workers 64 needs more file descriptors"), "\(stream.stderrText)")
            let streamed = try env.batch(["run", "--stream", "--", "cat"], input: (1...20_000).map { "\($0)\n" }.joined(), timeout: 120)
            #expect(streamed.status == 0, "\(streamed.err) \(stream.stderrText.suffix(1000))")
            #expect(streamed.out.split(separator: "\n").count == 20_000)
            #expect(!stream.stderrText.contains("Fatal error"))
            stream.signal(SIGKILL)
            stream.wait(timeout: 10)

            let perItem = try daemon(env, limits: "ulimit -n 64", arguments: ["--workers", "40"])
            defer { perItem.signal(SIGKILL); perItem.wait(timeout: 10) }
            let run = try env.batch(["run", "--", "sh", "-c", "echo $1", "_"], input: (1...100).map { "\($0)\n" }.joined(), timeout: 120)
            #expect(run.status == 0, "\(run.err) \(perItem.stderrText)")
            #expect(run.out.split(separator: "\n").count == 100)
        }

        /// At a process limit, starting a command fails with EAGAIN: the item
        /// is handed back and runs later, never failed for it.
        @Test(.enabled(if: getuid() == 0, "a process limit binds only a user other than root"))
        func startFailuresAtAProcessLimitHandItemsBack() throws {
            let env = BatchEnvironment()
            chmod(env.directory.path, 0o777)
            // Created first, by root, readable and writable by the daemon's user.
            _ = try env.store()
            for suffix in ["", "-wal", "-shm"] { chmod(env.dbPath + suffix, 0o666) }
            let limited = try daemon(env, limits: "ulimit -u 16", arguments: ["--workers", "8"], asNobody: true)
            defer { limited.signal(SIGKILL); limited.wait(timeout: 10) }
            // Submitted by the daemon's user: a daemon runs only its own uid's jobs.
            let submit = try TestProcess(
                URL(fileURLWithPath: "/usr/bin/setpriv"),
                ["--reuid=65534", "--regid=65534", "--clear-groups", Binaries.batch.path, "submit", "--", "sleep"],
                environment: env.environment, directory: "/")
            submit.write(String(repeating: "0.2\n", count: 100))
            submit.closeInput()
            #expect(submit.wait(timeout: 30) == 0, "\(submit.stderrText)")
            let job = try #require(try env.store().jobsList(limit: 1).first)
            let ended = try env.waitForJobEnd(job.id, timeout: 120)
            #expect(ended?.state == .complete, "\(limited.stderrText)")
            #expect(ended?.failedCount == 0, "no item fails for the daemon's limit")
            let faults = limited.stderrText.components(separatedBy: "cannot start commands").count - 1
            #expect(faults >= 1 && faults <= 3, "logged once per episode, not once per item: \(limited.stderrText)")
        }
    }
}
