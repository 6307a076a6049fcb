import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// No command outlives its item (issues 9 and 19): not after a SIGKILL
    /// of its daemon, not after a timeout or a cancel when it left its
    /// process group; and commands inherit none of the daemon's descriptors.
    @Suite struct Orphans {
        /// Whether a process runs (a zombie does not).
        static func running(_ pid: Int32) -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")")
            else { return false }
            let state = stat[stat.index(after: close)...].split(separator: " ").first
            return state != "Z" && state != "X"
        }

        static func pids(in folder: String) -> [Int32] {
            ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap {
                (try? String(contentsOfFile: folder + "/" + $0, encoding: .utf8)).flatMap {
                    Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
        }

        /// The commands a daemon runs die with it (PR_SET_PDEATHSIG); what
        /// they left running outside their group (`setsid`) is killed by the
        /// daemon that takes their chunks over.
        @Test func nothingAKilledDaemonStartedRunsOn() throws {
            let env = BatchEnvironment()
            let pids = env.directory.file("pids")
            let escaped = env.directory.file("escaped")
            for folder in [pids, escaped] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            let first = try env.startDaemon(["--workers", "2"])
            let script = "echo $$ > \(pids)/$1; setsid sleep 60 & echo $! > \(escaped)/$1; wait"
            let id = try #require(JobID(parsing: try env.batch(
                ["submit", "--chunksize", "1", "--", "sh", "-c", script, "_"],
                input: "1\n2\n3\n").out.trimmingCharacters(in: .whitespacesAndNewlines)))
            try #require(TestProcess.eventually(timeout: 30) { Self.pids(in: pids).count == 2 && Self.pids(in: escaped).count == 2 })
            let commands = Self.pids(in: pids)
            let leftBehind = Self.pids(in: escaped)
            first.signal(SIGKILL)
            first.wait(timeout: 10)
            #expect(TestProcess.eventually(timeout: 10) { !commands.contains(where: Self.running) },
                    "the commands die with their daemon, with no other daemon around")
            #expect(leftBehind.allSatisfy(Self.running), "what left their process group survives that")
            let second = try env.startDaemon(["--workers", "2"])
            #expect(TestProcess.eventually(timeout: 30) { !leftBehind.contains(where: Self.running) },
                    "the daemon that takes over ends them: \(second.stderrText)")
            // Logged once the kills are done: the processes may be seen gone first.
            #expect(TestProcess.eventually(timeout: 10) { second.stderrText.contains("killed 2 process(es)") }, "\(second.stderrText)")
            _ = try env.batch(["cancel", id.description])
        }

        @Test func aProcessThatLeftItsGroupDiesWithItsTimedOutItem() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "1"])
            let pidFile = env.directory.file("escaped")
            let run = try env.batch(
                ["run", "--timeout", "1s", "--", "sh", "-c", "setsid sleep 101 & echo $! > \(pidFile); sleep 30", "_"],
                input: "1\n", timeout: 60)
            #expect(run.status == 1, "\(run.err)")
            let escaped = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(TestProcess.eventually(timeout: 10) { !Self.running(escaped) }, "setsid's sleep was killed too")
        }

        @Test func commandsSeeTheirItemAndNoneOfTheDaemonsDescriptors() throws {
            let env = BatchEnvironment()
            // A daemon started with a stray descriptor (7, not close-on-exec).
            let daemon = try TestProcess(
                URL(fileURLWithPath: "/bin/bash"),
                ["-c", "exec 7</dev/null; exec \"$0\" --db \"$1\" --workers 1", Binaries.batchd.path, env.dbPath],
                environment: env.environment)
            daemon.closeInput()
            defer { daemon.signal(SIGKILL); daemon.wait(timeout: 10) }
            let script = "if [ -e /proc/$$/fd/7 ]; then echo leaked; else echo clean; fi; echo $BATCH_JOB $BATCH_LINE"
            let run = try env.batch(["run", "--", "sh", "-c", script, "_"], input: "a\nb\n", timeout: 60)
            #expect(run.status == 0, "\(run.err) \(daemon.stderrText)")
            #expect(run.out == "clean\n1 1\nclean\n1 2\n")
        }
    }
}

extension EndToEnd {
    /// Stream mode stops at once on cancel, and says when a filter breaks
    /// the one-line-per-item contract (issue 9).
    @Suite struct StreamSafety {
        @Test func cancelStopsStreamProcessesThatAreNotAnswering() throws {
            let env = BatchEnvironment()
            let pids = env.directory.file("pids")
            try FileManager.default.createDirectory(atPath: pids, withIntermediateDirectories: true)
            try env.startDaemon(["--workers", "2"])
            let id = try #require(JobID(parsing: try env.batch(
                ["submit", "--stream", "--chunksize", "1", "--", "sh", "-c", "echo $$ > \(pids)/$$; while read x; do sleep 100; echo $x; done"],
                input: "1\n2\n3\n").out.trimmingCharacters(in: .whitespacesAndNewlines)))
            try #require(TestProcess.eventually(timeout: 30) { Orphans.pids(in: pids).count == 2 })
            let started = Orphans.pids(in: pids)
            #expect(try env.batch(["cancel", id.description]).status == 0)
            #expect(TestProcess.eventually(timeout: 10) { !started.contains(where: Orphans.running) },
                    "cancel stops them without waiting for an answer")
        }

        @Test func aFilterThatNeverAnswersIsNamedInTheLog() throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon(["--workers", "1", "--stream-warn-after", "1s"])
            let id = try #require(JobID(parsing: try env.batch(
                ["submit", "--stream", "--", "grep", "5"], input: "1\n2\n").out.trimmingCharacters(in: .whitespacesAndNewlines)))
            let warned = TestProcess.eventually(timeout: 30) { daemon.stderrText.contains("has not answered line 1") }
            #expect(warned, "\(daemon.stderrText)")
            #expect(daemon.stderrText.contains("grep"))
            // In status too: the user may never read the daemon's log.
            let shown = TestProcess.eventually(timeout: 10) {
                ((try? env.batch(["status", id.description]).out) ?? "").contains("warning:  the stream process has not answered line 1")
            }
            let status = try env.batch(["status", id.description]).out
            #expect(shown, "\(status)")
            _ = try env.batch(["cancel", id.description])
        }
    }
}
