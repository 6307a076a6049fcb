import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// `batchd --allow`: a daemon runs only jobs whose command resolves to a
    /// listed executable; the others wait for another daemon, and `status`
    /// says why.
    @Suite struct AllowList {
        @Test func aDaemonAllowingEchoNeverClaimsCat() throws {
            let env = BatchEnvironment()
            let daemon = try env.startDaemon(["--workers", "2", "--allow", "/usr/bin/echo"])
            let refused = try env.batch(["submit", "--stream", "--", "cat"], input: "1\n2\n3\n")
            let refusedID = try #require(JobID(parsing: refused.out.trimmingCharacters(in: .whitespacesAndNewlines)))
            // `echo` found through PATH (as /bin/echo or /usr/bin/echo: one file).
            let allowed = try env.batch(["run", "--", "echo"], input: "a\nb\n")
            #expect(allowed.status == 0, "\(allowed.err)")
            #expect(allowed.out == "a\nb\n")
            // The daemon looked at the refused job (the proof that it was
            // considered), and left it whole.
            try #require(TestProcess.eventually(timeout: 30) {
                try env.store().jobFetch(refusedID)?.warning?.contains("--allow") == true
            }, "\(daemon.stderrText)")
            #expect(try env.store().jobFetch(refusedID)?.finishedCount == 0)
            #expect(try env.store().chunksLeasedList().isEmpty)
            let status = try env.batch(["status", refusedID.description])
            #expect(status.out.contains("does not run 'cat': it is not in its --allow list"), "\(status.out)")
            // A daemon that allows it runs it.
            try env.startDaemon(["--workers", "1"])
            let job = try env.waitForJobEnd(refusedID, timeout: 60)
            #expect(job?.state == .complete)
            #expect(try env.batch(["results", refusedID.description]).out == "1\n2\n3\n")
        }

        @Test func anAllowedPathMustBeAnExecutable() throws {
            let env = BatchEnvironment()
            let daemon = try TestProcess(Binaries.batchd, ["--db", env.dbPath, "--allow", "echo"], environment: env.environment)
            daemon.closeInput()
            #expect(daemon.wait(timeout: 30) == 64)
            #expect(daemon.stderrText.contains("--allow takes the absolute path of an executable file; 'echo' is not one"), "\(daemon.stderrText)")
        }
    }
}
