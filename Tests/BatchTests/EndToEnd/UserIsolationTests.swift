import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// A daemon runs only its own uid's jobs, and the CLI never starts a
    /// daemon on another user's database (issue 9). Needs root, to act as two
    /// users (CI runs as root).
    @Suite(.enabled(if: getuid() == 0, "needs root to act as another user")) struct UserIsolation {
        static let nobody: UInt32 = 65534

        /// Runs a binary as `nobody`.
        static func asNobody(_ binary: URL, _ arguments: [String], environment: [String: String]) throws -> TestProcess {
            try TestProcess(
                URL(fileURLWithPath: "/usr/bin/setpriv"),
                ["--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups", binary.path] + arguments,
                environment: environment, directory: "/")
        }

        @Test func aDaemonRunsOnlyItsOwnUsersJobsAndNoneIsStartedOnAnotherUsersDatabase() throws {
            let env = BatchEnvironment()
            let folder = env.directory.file("tester")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            chmod(env.directory.path, 0o755)
            chown(folder, Self.nobody, Self.nobody)
            let path = folder + "/jobs.db"
            var environment = env.environment
            environment["BATCH_DB"] = path

            // The other user submits a job to a database of theirs.
            let submit = try Self.asNobody(Binaries.batch, ["submit", "--", "sh", "-c", "id -u", "_"], environment: environment)
            submit.write("1\n2\n")
            submit.closeInput()
            #expect(submit.wait(timeout: 30) == 0, "\(submit.stderrText)")
            let store = try SQLiteStore(path: path)
            let theirs = try #require(try store.jobsList(limit: 1).first)
            #expect(theirs.ownerUID == Self.nobody)

            // Root follows it, with autostart on: no daemon is started, and it says why.
            var autostarting = environment
            autostarting.removeValue(forKey: "BATCH_NO_AUTOSTART")
            let follow = try env.start(["follow", theirs.id.description], environment: autostarting)
            #expect(TestProcess.eventually(timeout: 30) { follow.stderrText.contains("belongs to uid \(Self.nobody)") },
                    "\(follow.stderrText)")
            #expect(try store.daemonsList().isEmpty)

            // A root daemon serving the file runs root's job, never the older one of the other user.
            let rootDaemon = try TestProcess(Binaries.batchd, ["--db", path, "--workers", "2"], environment: environment)
            rootDaemon.closeInput()
            defer { rootDaemon.signal(SIGKILL); rootDaemon.wait(timeout: 10) }
            let mine = try env.batch(["run", "--db", path, "--", "sh", "-c", "id -u", "_"], input: "x\n", timeout: 60)
            #expect(mine.status == 0 && mine.out == "0\n", "\(mine.err)")
            #expect(try store.jobFetch(theirs.id)?.finishedCount == 0, "root's daemon did not run the other user's job")
            #expect(try store.chunksLeasedList().isEmpty)

            // Their own daemon runs it, as them.
            let theirDaemon = try Self.asNobody(Binaries.batchd, ["--db", path, "--workers", "1"], environment: environment)
            theirDaemon.closeInput()
            defer { theirDaemon.signal(SIGKILL); theirDaemon.wait(timeout: 10) }
            #expect(follow.wait(timeout: 60) == 0, "\(follow.stderrText) \(theirDaemon.stderrText)")
            #expect(follow.stdoutText == "65534\n65534\n")
        }
    }
}
