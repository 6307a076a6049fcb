@testable import BatchPostgres
import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// Daemons on several hosts serving one job on one PostgreSQL server.
    /// Each host is a `SimulatedHost`: network, pid and UTS namespaces of its
    /// own, reaching the server over TCP on a veth link that a test can take
    /// down. The submitter runs here, on the server's host.
    @Suite struct OnSeveralHosts {
        typealias Session = OnPostgreSQL.Session

        /// batchd on `host`, for the session's database.
        @discardableResult
        static func daemon(on host: SimulatedHost, _ session: Session, _ arguments: [String]) throws -> TestProcess {
            var environment = session.environment
            environment["BATCH_DB"] = host.conninfo(session.conninfo)
            let daemon = try host.start(Binaries.batchd, arguments, environment: environment, directory: session.directory.path)
            daemon.closeInput()
            return daemon
        }

        static func waitForDaemons(_ count: Int, _ session: Session) throws {
            let registered = try TestProcess.eventually(timeout: 30) { try session.store().daemonsList().count == count }
            try #require(registered, "\(count) daemons did not register")
        }

        /// Which host recorded each line: the command prints its hostname.
        static func hosts(of results: [ItemResult]) -> [Int64: String] {
            Dictionary(uniqueKeysWithValues: results.map { result in
                (result.line, String(decoding: result.outcome.output, as: UTF8.self).split(separator: " ").last.map(String.init)?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            })
        }

        static let printsHost = ["sh", "-c", "sleep 0.1; echo $1 $(hostname)", "_"]

        @Test func threeHostsShareOneJob() throws {
            let session = try Session()
            let hosts = try (0..<3).map { _ in try SimulatedHost() }
            for host in hosts { try Self.daemon(on: host, session, ["--workers", "2"]) }
            try Self.waitForDaemons(3, session)
            let run = try session.batch(["run", "--"] + Self.printsHost, input: (1...600).map { "\($0)\n" }.joined(), timeout: 300)
            #expect(run.status == 0, "\(run.err)")
            let lines = run.out.split(separator: "\n")
            #expect(lines.count == 600)
            #expect(lines.map { Int($0.split(separator: " ")[0]) ?? 0 } == Array(1...600), "every line once, in order")
            let id = try #require(try session.store().jobsList(limit: 1, states: nil).first?.id)
            let recorded = Set(Self.hosts(of: try session.store().resultsByLine(job: id, afterLine: 0, limit: 1000)).values)
            #expect(recorded == Set(hosts.map(\.name)), "every host recorded results: \(recorded)")
        }

        /// One host's link goes down mid-chunk: its leases run out on the
        /// server's clock and the other host takes its chunks; it stops its
        /// own commands within a lease (it cannot confirm them); and when the
        /// link is back, nothing it finished meanwhile is recorded.
        enum Cut: String, CaseIterable, CustomTestStringConvertible {
            /// Its link goes down: its calls fail at once (no route to host).
            case linkDown
            /// The server's answers are dropped: its calls hang, unanswered.
            case silence
            var testDescription: String { rawValue }
        }

        @Test(arguments: Cut.allCases)
        func aHostCutOffStopsItsChunksAndItsLateResultsAreRejected(_ how: Cut) throws {
            let session = try Session()
            let (cut, other) = (try SimulatedHost(), try SimulatedHost())
            let cutDaemon = try Self.daemon(on: cut, session, ["--workers", "2", "--lease", "2s"])
            try Self.daemon(on: other, session, ["--workers", "2", "--lease", "2s"])
            try Self.waitForDaemons(2, session)
            // Commands take 0.2 s, or a minute on a host whose flag file exists.
            let flags = session.directory.path
            let submitted = try session.batch(
                ["submit", "--chunksize", "10", "--", "sh", "-c",
                 "if [ -e \(flags)/slow-$(hostname) ]; then sleep 60; else sleep 0.2; fi; echo $1 $(hostname)", "_"],
                input: (1...160).map { "\($0)\n" }.joined())
            let id = try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)), "\(submitted.err)")
            func recordedBy(_ host: SimulatedHost) throws -> Int {
                Self.hosts(of: try session.store().resultsByLine(job: id, afterLine: 0, limit: 1000)).values.filter { $0 == host.name }.count
            }
            try #require(TestProcess.eventually(timeout: 60) { try recordedBy(cut) >= 2 })
            // Its slots start commands that would run for a minute.
            FileManager.default.createFile(atPath: "\(flags)/slow-\(cut.name)", contents: nil)
            Thread.sleep(forTimeInterval: 1)
            let leasedByCut = try PostgresConnection(conninfo: session.conninfo).execute(
                "SELECT count(*) FROM chunk c JOIN daemon d ON d.id = c.owner WHERE c.state = 'leased' AND d.host = $1", [.text(cut.name)])
            switch how {
            case .linkDown: try cut.link(up: false)
            case .silence: try cut.silence(true)
            }
            let cutAt = TestProcess.now()
            let beforeCut = try recordedBy(cut)
            #expect((leasedByCut.int(0, 0) ?? 0) > 0, "the host held chunks when it was cut off")

            // It stops its commands: only unshare and batchd are left on it.
            // Between two commands of a chunk there are none for a moment: it
            // has stopped when none has run for 3 s.
            var quietSince: Double?
            let stopped = TestProcess.eventually(timeout: 30) {
                if cut.pids().count > 2 { quietSince = nil } else if quietSince == nil { quietSince = TestProcess.now() }
                return quietSince.map { TestProcess.now() - $0 >= 3 } ?? false
            }
            #expect(stopped, "the cut-off host still runs \(cut.pids().count - 2) processes")
            // One lease (2 s) after its last confirmation; a wide margin for a busy machine.
            #expect((quietSince ?? .infinity) - cutAt < 8, "its commands ran on well past its lease")
            print("cut off (\(how)): its commands stopped after \(String(format: "%.1f", (quietSince ?? .nan) - cutAt)) s (lease 2 s)")
            let completed = try TestProcess.eventually(timeout: 120) { try session.store().jobFetch(id)?.state == .complete }
            #expect(completed, "the other host finished the job")

            switch how {
            case .linkDown: try cut.link(up: true)
            case .silence: try cut.silence(false)
            }
            // Time for the healed daemon to reconnect and try to record what it held.
            Thread.sleep(forTimeInterval: 6)
            #expect(try recordedBy(cut) == beforeCut, "nothing the cut-off host finished late was accepted")
            let results = try session.store().resultsByLine(job: id, afterLine: 0, limit: 1000)
            #expect(results.map(\.line) == Array(1...160), "every line recorded once")
            #expect(results.allSatisfy { String(decoding: $0.outcome.output, as: UTF8.self).hasPrefix("\($0.line) ") })
            #expect(cutDaemon.stderrText.contains("could not be confirmed"), "\(cutDaemon.stderrText.suffix(2000))")
        }

        /// A host's daemon is SIGKILLed (with everything on the host) while a
        /// follower on a third host streams the results: the chunks come back
        /// when their leases run out, and the follower prints every line once.
        @Test func aKilledHostsChunksComeBackAndAFollowerElsewhereSeesEveryLineOnce() throws {
            let session = try Session()
            let (doomed, survivor, watcher) = (try SimulatedHost(), try SimulatedHost(), try SimulatedHost())
            try Self.daemon(on: doomed, session, ["--workers", "2", "--lease", "2s"])
            try Self.daemon(on: survivor, session, ["--workers", "2", "--lease", "2s"])
            try Self.waitForDaemons(2, session)
            let submitted = try session.batch(
                ["submit", "--chunksize", "3", "--", "sh", "-c", "sleep 0.05; echo $1 $(hostname)", "_"],
                input: (1...300).map { "\($0)\n" }.joined())
            let id = try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)), "\(submitted.err)")
            var environment = session.environment
            environment["BATCH_DB"] = watcher.conninfo(session.conninfo)
            let follower = try watcher.start(Binaries.batch, ["follow", "\(id)"], environment: environment, directory: session.directory.path)
            follower.closeInput()
            try #require(TestProcess.eventually(timeout: 60) {
                Self.hosts(of: try session.store().resultsByLine(job: id, afterLine: 0, limit: 1000)).values.contains(doomed.name)
            })
            doomed.killEverything()
            #expect(follower.wait(timeout: 180) == 0, "\(follower.stderrText)")
            let lines = follower.stdoutText.split(separator: "\n")
            #expect(lines.map { Int($0.split(separator: " ")[0]) ?? 0 } == Array(1...300), "every line once, in order")
            let recorded = Set(Self.hosts(of: try session.store().resultsByLine(job: id, afterLine: 0, limit: 1000)).values)
            #expect(recorded == [doomed.name, survivor.name])
        }
    }

    /// The server ends the daemon's and a follower's connections mid-job
    /// (an administrator's `pg_terminate_backend`, a failover): they
    /// reconnect, the job completes with every line recorded once, and the
    /// follower prints each once.
    @Suite struct WhenTheServerDropsConnections {
        @Test func terminatedBackendsLoseNothing() throws {
            let session = try OnPostgreSQL.Session()
            try session.startDaemon(["--workers", "2"])
            let submitted = try session.batch(
                ["submit", "--chunksize", "5", "--", "sh", "-c", "sleep 0.01; echo done $1", "_"],
                input: (1...600).map { "\($0)\n" }.joined())
            let id = try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)), "\(submitted.err)")
            let follower = try TestProcess(Binaries.batch, ["follow", "\(id)"], environment: session.environment, directory: session.directory.path)
            follower.closeInput()
            let admin = try PostgresConnection(conninfo: session.conninfo)
            var terminated: Int64 = 0
            for _ in 0..<5 {
                _ = TestProcess.eventually(timeout: 30) { ((try? session.store().jobFetch(id)?.finishedCount) ?? 0) > 0 }
                Thread.sleep(forTimeInterval: 0.4)
                let rows = try admin.execute("""
                    SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE datname = current_database() AND application_name IN ('batchd', 'batch')
                    """)
                terminated += rows.int(0, 0) ?? 0
            }
            #expect(terminated >= 5, "the daemon's connections were ended")
            let completed = try TestProcess.eventually(timeout: 120) { try session.store().jobFetch(id)?.state == .complete }
            #expect(completed)
            let results = try session.store().resultsByLine(job: id, afterLine: 0, limit: 1000)
            #expect(results.map(\.line) == Array(1...600), "every line recorded once")
            #expect(results.allSatisfy { $0.outcome.output == Data("done \($0.line)\n".utf8) })
            #expect(follower.wait(timeout: 60) == 0, "\(follower.stderrText)")
            #expect(follower.stdoutText == (1...600).map { "done \($0)\n" }.joined(), "the follower printed every line once")
        }
    }
}
