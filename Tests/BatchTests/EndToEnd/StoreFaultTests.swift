import BatchStore
import Foundation
import Testing

extension EndToEnd {
    @Suite struct StoreFaults {
        /// The daemon runs under a file-size limit (`prlimit --fsize`), so its
        /// writes to the database fail part-way through a job, as on a full
        /// disk. It must log the fault once, keep running, and finish the job
        /// with every result once the limit is lifted.
        @Test func daemonSurvivesFailingWritesAndCatchesUp() throws {
            let env = BatchEnvironment()
            let script = "head -c 4000 /dev/zero | tr '\\0' x; echo \" $1\""
            let submitted = try env.batch(["submit", "--", "sh", "-c", script, "_"], input: (1...200).map { "\($0)\n" }.joined())
            let id = try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)))
            let store = try env.store()
            let walSize = (try? FileManager.default.attributesOfItem(atPath: env.dbPath + "-wal")[.size] as? Int) ?? 0
            // Room for a few results only: 200 results of 4 KB need far more.
            let limit = max(walSize, 100_000) + 150_000
            let daemon = try TestProcess(
                URL(fileURLWithPath: "/usr/bin/prlimit"),
                ["--fsize=\(limit):unlimited", Binaries.batchd.path, "--db", env.dbPath, "--workers", "2"],
                environment: env.environment)
            daemon.closeInput()
            defer { daemon.signal(SIGKILL); daemon.wait(timeout: 10) }
            try #require(TestProcess.eventually { daemon.stderrText.contains("store fault") }, "\(daemon.stderrText)")
            usleep(1_000_000)
            #expect(daemon.isRunning)
            let stuck = try #require(try store.jobFetch(id))
            #expect(stuck.state == .sealed && stuck.finishedCount < 200)
            // Retried every fraction of a second, but logged once per fault (a write
            // that still fits may end one fault and start the next).
            let faults = daemon.stderrText.components(separatedBy: "store fault").count - 1
            let recoveries = daemon.stderrText.components(separatedBy: "succeed again").count - 1
            #expect(faults <= recoveries + 1 && faults <= 4, "one line per fault: \(daemon.stderrText)")

            let raise = Process()
            raise.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
            raise.arguments = ["--pid", String(daemon.pid), "--fsize=unlimited:unlimited"]
            try raise.run()
            raise.waitUntilExit()
            try #require(raise.terminationStatus == 0)

            #expect(try env.waitForJobEnd(id, timeout: 60)?.state == .complete)
            #expect(TestProcess.eventually(timeout: 5) { daemon.stderrText.contains("store writes succeed again") })
            let results = try store.resultsByLine(job: id, afterLine: 0, limit: 300)
            #expect(results.map(\.line) == Array(1...200))
            #expect(results.allSatisfy { String(decoding: $0.outcome.output, as: UTF8.self).hasSuffix(" \($0.line)\n") })
        }

        /// A full disk (a small tmpfs, as root): the fault is logged once and
        /// its end once, when results are written again, not every second
        /// while heartbeats fit in the space a checkpoint freed (issue 19).
        @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
        func aFullDiskIsLoggedOnceUntilResultsAreWrittenAgain() throws {
            let env = BatchEnvironment()
            let mountPoint = env.directory.file("small")
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            func mount(_ arguments: [String]) throws -> Int32 {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/mount")
                process.arguments = arguments
                try process.run()
                process.waitUntilExit()
                return process.terminationStatus
            }
            try #require(try mount(["-t", "tmpfs", "-o", "size=30m", "tmpfs", mountPoint]) == 0, "tmpfs could not be mounted")
            defer {
                let unmount = Process()
                unmount.executableURL = URL(fileURLWithPath: "/bin/umount")
                unmount.arguments = ["-l", mountPoint]
                try? unmount.run()
                unmount.waitUntilExit()
            }
            var environment = env.environment
            let path = mountPoint + "/b.db"
            environment["BATCH_DB"] = path
            let submit = try env.start(["submit", "--db", path, "--", "sh", "-c", "head -c 100000 /dev/urandom | base64 -w0; echo", "_"],
                                       input: (1...400).map { "\($0)\n" }.joined(), environment: environment)
            #expect(submit.wait(timeout: 30) == 0, "\(submit.stderrText)")
            let daemon = try TestProcess(Binaries.batchd, ["--db", path, "--workers", "2"], environment: environment)
            daemon.closeInput()
            defer { daemon.signal(SIGKILL); daemon.wait(timeout: 10) }
            try #require(TestProcess.eventually(timeout: 60) { daemon.stderrText.contains("store fault") }, "\(daemon.stderrText)")
            usleep(3_000_000)
            #expect(daemon.isRunning)
            #expect(daemon.stderrText.components(separatedBy: "store fault").count - 1 == 1, "\(daemon.stderrText)")
            #expect(!daemon.stderrText.contains("succeed again"), "nothing was written: \(daemon.stderrText)")
            try #require(try mount(["-o", "remount,size=300m", mountPoint]) == 0)
            let store = try SQLiteStore(path: path)
            let id = try #require(try store.jobsList(limit: 1).first?.id)
            var job: Job?
            _ = TestProcess.eventually(timeout: 120) {
                job = try? store.jobFetch(id)
                return job?.state == .complete
            }
            #expect(job?.state == .complete && job?.finishedCount == 400)
            #expect(TestProcess.eventually(timeout: 10) { daemon.stderrText.contains("store writes succeed again") })
        }
    }
}
