import BatchBackends
@testable import BatchPostgres
import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// The real `batch` and `batchd` on a PostgreSQL database of the test
    /// cluster: the same commands, the same results as on a file.
    @Suite struct OnPostgreSQL {
        final class Session {
            let environment: [String: String]
            let conninfo: String
            let directory = TemporaryDirectory()
            var daemons: [TestProcess] = []

            init() throws {
                conninfo = try PostgresCluster.freshDatabase()
                var environment = ProcessInfo.processInfo.environment
                environment["BATCH_DB"] = conninfo
                environment["BATCH_NO_AUTOSTART"] = "1"
                self.environment = environment
            }

            func store() throws -> any BatchStore { try StoreFactory.open(.postgres(conninfo)) }

            /// The environment of a process that logs in as `role` (the
            /// cluster's superuser when nil).
            func environment(as role: String?) -> [String: String] {
                var environment = self.environment
                // In key=value form a later keyword wins.
                if let role { environment["BATCH_DB"] = conninfo + " user=\(role)" }
                return environment
            }

            /// A login role of its own for this test (roles belong to the
            /// whole cluster), member of `group`.
            func createRole(_ prefix: String, in group: String) throws -> String {
                let name = prefix + "_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(10)
                _ = try store()  // the schema, with its group roles
                let admin = try PostgresConnection(conninfo: conninfo)
                defer { admin.close() }
                try admin.execute("CREATE ROLE \(name) LOGIN IN ROLE \(group)")
                return name
            }

            @discardableResult
            func startDaemon(_ arguments: [String] = ["--workers", "2"], as role: String? = nil) throws -> TestProcess {
                let daemon = try TestProcess(Binaries.batchd, arguments, environment: environment(as: role), directory: directory.path)
                daemon.closeInput()
                daemons.append(daemon)
                let registered = try TestProcess.eventually(timeout: 30) {
                    try store().daemonsList().contains { $0.pid == daemon.pid }
                }
                try #require(registered, "batchd did not register: \(daemon.stderrText)")
                return daemon
            }

            func batch(_ arguments: [String], input: String, as role: String? = nil, timeout: Double = 120) throws -> (status: Int32?, out: String, err: String) {
                let process = try TestProcess(Binaries.batch, arguments, environment: environment(as: role), directory: directory.path)
                process.write(input)
                process.closeInput()
                let status = process.wait(timeout: timeout)
                return (status, process.stdoutText, process.stderrText)
            }

            deinit {
                for daemon in daemons where daemon.isRunning {
                    daemon.signal(SIGKILL)
                    _ = daemon.wait(timeout: 10)
                }
            }
        }

        @Test func runAndStreamGiveTheSameResultsAsOnAFile() throws {
            let session = try Session()
            try session.startDaemon()
            let perItem = try session.batch(["run", "--", "echo", "item"], input: (1...200).map { "\($0)\n" }.joined())
            #expect(perItem.status == 0, "\(perItem.err)")
            #expect(perItem.out == (1...200).map { "item \($0)\n" }.joined())
            let stream = try session.batch(["run", "--stream", "--", "sed", "-u", "s/^/seen /"], input: (1...5000).map { "\($0)\n" }.joined())
            #expect(stream.status == 0, "\(stream.err)")
            #expect(stream.out == (1...5000).map { "seen \($0)\n" }.joined())
            let failing = try session.batch(["run", "--", "sh", "-c", "test $1 != 3", "_"], input: "1\n2\n3\n4\n")
            #expect(failing.status == 1)
            #expect(failing.err.contains("line 3 failed: exit status 1"), "\(failing.err)")
        }

        /// libpq (and the OpenSSL, Kerberos and LDAP libraries it brings,
        /// about 6 MiB) is loaded only by a process that opens a PostgreSQL
        /// store.
        @Test func onlyAProcessOnPostgreSQLLoadsLibpq() throws {
            func mapsLibpq(_ pid: Int32) throws -> Bool {
                // Read to the end: /proc files report a size of 0.
                let maps = try #require(FileHandle(forReadingAtPath: "/proc/\(pid)/maps")).readDataToEndOfFile()
                try #require(!maps.isEmpty)
                return String(decoding: maps, as: UTF8.self).contains("libpq.so")
            }
            let file = BatchEnvironment()
            let onFile = try file.startDaemon(["--workers", "1"])
            #expect(try !mapsLibpq(onFile.pid))
            let session = try Session()
            let onServer = try session.startDaemon(["--workers", "1"])
            #expect(try mapsLibpq(onServer.pid), "the check sees libpq where it is loaded")
        }

        /// On a network store the daemons may run where the command exists:
        /// a command missing here is a warning, not a refusal (on a file it
        /// is refused with 127, as xargs does).
        @Test func aCommandMissingHereIsStoredWithAWarning() throws {
            let session = try Session()
            let submitted = try session.batch(["submit", "--", "no-such-command-here"], input: "1\n2\n")
            #expect(submitted.status == 0, "\(submitted.err)")
            #expect(submitted.err.contains("warning: command not found here (or not executable): no-such-command-here"), "\(submitted.err)")
            let id = try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(try session.store().jobFetch(id)?.itemCount == 2)
        }

        @Test func aSIGKILLedDaemonsWorkIsFinishedByAnother() throws {
            let session = try Session()
            let first = try session.startDaemon(["--workers", "2", "--lease", "2s"])
            let marker = session.directory.file("runs")
            let submitted = try session.batch(
                ["submit", "--chunksize", "2", "--", "sh", "-c", "echo $1 >> \(marker); sleep 0.1; echo done-$1", "_"],
                input: (1...40).map { "\($0)\n" }.joined())
            let id = try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)))
            try #require(TestProcess.eventually(timeout: 30) { FileManager.default.fileExists(atPath: marker) })
            first.signal(SIGKILL)
            _ = first.wait(timeout: 10)
            try session.startDaemon(["--workers", "2", "--lease", "2s"])
            let done = try TestProcess.eventually(timeout: 120) { try session.store().jobFetch(id)?.state == .complete }
            #expect(done)
            let results = try session.store().resultsByLine(job: id, afterLine: 0, limit: 100)
            #expect(results.map(\.line) == Array(1...40), "every line recorded once")
            #expect(results.allSatisfy { $0.outcome.output == Data("done-\($0.line)\n".utf8) })
        }
    }
}
