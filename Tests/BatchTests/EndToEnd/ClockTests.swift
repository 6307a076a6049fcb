import BatchStore
import Foundation
import Testing

/// Where libfaketime is (Debian's `faketime`, installed by scripts/install-deps).
enum FakeTime {
    static let command = "/usr/bin/faketime"
    static let library = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
}

extension EndToEnd {
    /// Clocks (issue 19): a daemon or a CLI whose wall clock is wrong, or is
    /// stepped, changes nothing. libfaketime shifts one process's clock; under
    /// it a Swift daemon's timers were seen to stall after about 10 s, so these
    /// tests are judged on their first seconds.
    @Suite(.enabled(if: FileManager.default.fileExists(atPath: FakeTime.library), "needs libfaketime (scripts/install-deps installs it)"))
    struct ClockTests {
        static let library = FakeTime.library

        func jobID(_ text: String) throws -> JobID {
            try #require(JobID(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }

        /// Runs a binary under the `faketime` wrapper, its clock shifted by
        /// `offset` (libfaketime preloaded by hand loses Swift's arguments).
        static func shifted(_ binary: URL, _ arguments: [String], by offset: String, environment: [String: String]) throws -> TestProcess {
            var environment = environment
            environment["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
            return try TestProcess(URL(fileURLWithPath: FakeTime.command), ["-f", offset, binary.path] + arguments, environment: environment)
        }

        /// Both items are running on the healthy daemon when one whose clock is
        /// two hours ahead starts: it must take neither (its leases look
        /// expired by its clock, but their owner is beating).
        @Test func aDaemonWithItsClockAheadTakesNoLiveLease() throws {
            let env = BatchEnvironment()
            let runs = env.directory.file("runs")
            try env.startDaemon(["--workers", "2", "--lease", "3s"])
            let id = try jobID(try env.batch(
                ["submit", "--chunksize", "1", "--", "sh", "-c", "echo $1 >> \(runs); sleep 4; echo $1", "_"],
                input: "1\n2\n").out)
            try #require(TestProcess.eventually(timeout: 30) {
                ((try? String(contentsOfFile: runs, encoding: .utf8)) ?? "").split(separator: "\n").count == 2
            })
            let skewed = try Self.shifted(
                Binaries.batchd, ["--db", env.dbPath, "--workers", "2", "--lease", "3s"], by: "+2h", environment: env.environment)
            skewed.closeInput()
            defer {
                // The wrapper runs batchd as its child: stop both.
                for daemon in (try? env.store().daemonsList()) ?? [] where daemon.pid != getpid() { kill(daemon.pid, SIGKILL) }
                skewed.signal(SIGKILL)
                skewed.wait(timeout: 5)
            }
            #expect(try env.waitForJobEnd(id, timeout: 60)?.state == .complete)
            let starts = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n")
            #expect(starts.count == 2, "each item started once, none taken from the healthy daemon: \(starts) \(skewed.stderrText)")
            #expect(!skewed.stderrText.contains("took back") && !skewed.stderrText.contains("handed back"), "\(skewed.stderrText)")
        }

        @Test func aCLIWithAnotherClockShowsTheTrueRate() throws {
            let env = BatchEnvironment()
            try env.startDaemon(["--workers", "2"])
            let id = try jobID(try env.batch(["submit", "--", "sleep"], input: String(repeating: "0.1\n", count: 400)).out)
            try #require(TestProcess.eventually(timeout: 30) { (try env.store().jobFetch(id)?.finishedCount ?? 0) >= 20 })
            func rate(_ shift: String?) throws -> Double {
                let arguments = ["status", "--json", id.description]
                let process = shift.map { shift in
                    try? Self.shifted(Binaries.batch, arguments, by: shift, environment: env.environment)
                } ?? (try? env.start(arguments))
                let status = try #require(process)
                status.wait(timeout: 30)
                let json = try #require(try JSONSerialization.jsonObject(with: status.stdout) as? [String: Any])
                return try #require(json["rate_per_second"] as? Double)
            }
            let truth = try rate(nil)
            let behind = try rate("-10m")
            let ahead = try rate("+10m")
            #expect(truth > 0)
            for shifted in [behind, ahead] {
                #expect(shifted > truth / 3 && shifted < truth * 3, "true rate \(truth)/s, with a shifted clock \(behind) and \(ahead)")
            }
            _ = try env.batch(["cancel", id.description])
        }

        /// A step of the daemon's wall clock (as NTP makes) must not time out
        /// the stream items in flight: timeouts run on the monotonic clock.
        @Test(.enabled(if: FileManager.default.fileExists(atPath: FakeTime.library)))
        func aStepOfTheWallClockFailsNoStreamItem() throws {
            let env = BatchEnvironment()
            let stamp = env.directory.file("faketime")
            try "+0\n".write(toFile: stamp, atomically: true, encoding: .utf8)
            var environment = env.environment
            environment["LD_PRELOAD"] = Self.library
            environment["FAKETIME_TIMESTAMP_FILE"] = stamp
            environment["FAKETIME_NO_CACHE"] = "1"
            environment["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
            let daemon = try TestProcess(Binaries.batchd, ["--db", env.dbPath, "--workers", "2"], environment: environment)
            daemon.closeInput()
            defer { daemon.signal(SIGKILL); daemon.wait(timeout: 10) }
            try #require(TestProcess.eventually(timeout: 30) { try !env.store().daemonsList().isEmpty })
            let id = try jobID(try env.batch(
                ["submit", "--stream", "--chunksize", "2", "--timeout", "5s", "--", "sh", "-c", "while read x; do sleep 1; echo r$x; done"],
                input: (1...6).map { "\($0)\n" }.joined()).out)
            usleep(1_500_000)
            try "+1m\n".write(toFile: stamp, atomically: true, encoding: .utf8)
            let job = try env.waitForJobEnd(id, timeout: 30)
            #expect(job?.state == .complete)
            let failed = try env.batch(["results", id.description, "--failed"]).out
            #expect(job?.failedCount == 0, "\(failed) \(daemon.stderrText)")
        }
    }
}
