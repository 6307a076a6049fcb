import BatchBackends
@testable import BatchPostgres
import BatchStore
import Foundation
import Testing

extension EndToEnd {
    /// The documented roles on a real server, with the real binaries: a
    /// submitter (a member of `batch_submitter`) runs its own jobs through
    /// daemons of `batch_daemon`, and row-level security keeps it off
    /// everyone else's jobs and off the tables only daemons write.
    @Suite struct PostgreSQLRoles {
        typealias Session = OnPostgreSQL.Session

        /// Runs `sql` as `role`; the server's error when it refuses.
        static func refusal(_ session: Session, as role: String, _ sql: String) throws -> String? {
            let connection = try PostgresConnection(conninfo: session.conninfo + " user=\(role)")
            defer { connection.close() }
            do {
                try connection.execute(sql)
                return nil
            } catch {
                return "\(error)"
            }
        }

        static func count(_ session: Session, as role: String, _ sql: String) throws -> Int64? {
            let connection = try PostgresConnection(conninfo: session.conninfo + " user=\(role)")
            defer { connection.close() }
            return try connection.execute(sql).int(0, 0)
        }

        @Test func aSubmitterRunsItsOwnJobsAndCannotTouchChunksResultsOrOthersJobs() throws {
            let session = try Session()
            let alice = try session.createRole("alice", in: "batch_submitter")
            let bob = try session.createRole("bob", in: "batch_submitter")
            let worker = try session.createRole("worker", in: "batch_daemon")
            try session.startDaemon(["--workers", "2"], as: worker)

            let own = try session.batch(["run", "--", "echo", "alice"], input: "1\n2\n3\n", as: alice)
            #expect(own.status == 0, "\(own.err)")
            #expect(own.out == "alice 1\nalice 2\nalice 3\n")
            let bobs = try session.batch(["run", "--", "echo", "bob"], input: "1\n", as: bob)
            #expect(bobs.status == 0, "\(bobs.err)")

            // Each sees its own job only: 1 is alice's, 2 is bob's.
            let listed = try session.batch(["list"], input: "", as: alice)
            #expect(listed.out.contains("echo alice") && !listed.out.contains("echo bob"), "\(listed.out)")
            let foreign = try session.batch(["results", "2"], input: "", as: alice)
            #expect(foreign.status != 0 && foreign.out.isEmpty, "\(foreign.out)")
            #expect(try Self.count(session, as: alice, "SELECT count(*) FROM result WHERE job_id = 2") == 0, "bob's results are invisible to alice")
            #expect(try Self.count(session, as: worker, "SELECT count(*) FROM result WHERE job_id = 2") == 1, "a daemon sees them")
            #expect(try Self.count(session, as: alice, "SELECT count(*) FROM item") == 3, "alice's items only")

            // Daemons' tables: read-only, whatever the job.
            let chunkInsert = try Self.refusal(session, as: alice, "INSERT INTO chunk (job_id, first_line, last_line, state, fence) VALUES (1, 1, 1, 'released', 1)")
            #expect(chunkInsert?.contains("permission denied for table chunk") == true, "\(chunkInsert ?? "accepted")")
            let resultUpdate = try Self.refusal(session, as: alice, "UPDATE result SET output = 'forged' WHERE job_id = 1")
            #expect(resultUpdate?.contains("permission denied for table result") == true, "\(resultUpdate ?? "accepted")")
            let resultInsert = try Self.refusal(session, as: alice, """
                INSERT INTO result (job_id, line, sequence, status, output, error_output, attempts, started_at, finished_at)
                VALUES (1, 1, 99, 'succeeded', '', '', 1, now(), now())
                """)
            #expect(resultInsert?.contains("permission denied for table result") == true, "\(resultInsert ?? "accepted")")
            // Nor can alice slip an item into bob's job, or take it over.
            let intoBobs = try Self.refusal(session, as: alice, "INSERT INTO item (job_id, line, data) VALUES (2, 2, 'x')")
            #expect(intoBobs?.contains("row-level security") == true, "\(intoBobs ?? "accepted")")
            let takeOver = try Self.refusal(session, as: alice, "INSERT INTO job (command, command_bytes, working_directory, environment, chunk_size, nul_separated, stream, retries, retry_delay, max_output, state, owner_role) SELECT command, command_bytes, working_directory, environment, chunk_size, nul_separated, stream, retries, retry_delay, max_output, 'open', '\(bob)' FROM job WHERE id = 1")
            #expect(takeOver?.contains("row-level security") == true, "\(takeOver ?? "accepted")")
            #expect(try session.store().resultsByLine(job: JobID(1), afterLine: 0, limit: 10).map(\.outcome.output)
                    == ["alice 1\n", "alice 2\n", "alice 3\n"].map { Data($0.utf8) })

            // Items go only with their job: alice removes hers, and its items
            // and results go with it (the schema's owner deletes them).
            let itemDelete = try Self.refusal(session, as: alice, "DELETE FROM item WHERE job_id = 1")
            #expect(itemDelete?.contains("permission denied for table item") == true, "\(itemDelete ?? "accepted")")
            let removed = try session.batch(["rm", "1"], input: "", as: alice)
            #expect(removed.status == 0, "\(removed.err)")
            let owner = try PostgresConnection(conninfo: session.conninfo)
            #expect(try owner.execute("SELECT count(*) FROM item WHERE job_id = 1").int(0, 0) == 0)
            #expect(try owner.execute("SELECT count(*) FROM result WHERE job_id = 1").int(0, 0) == 0)
            #expect(try owner.execute("SELECT count(*) FROM result WHERE job_id = 2").int(0, 0) == 1, "bob's job is untouched")
        }

        /// Cancelling hands the job's leased chunks back, which the submitter
        /// may not write itself: the schema's owner does it (a trigger).
        @Test func aSubmitterCancelsItsRunningJob() throws {
            let session = try Session()
            let alice = try session.createRole("alice", in: "batch_submitter")
            let worker = try session.createRole("worker", in: "batch_daemon")
            try session.startDaemon(["--workers", "2"], as: worker)
            let submitted = try session.batch(["submit", "--", "sleep", "30"], input: "1\n2\n3\n", as: alice)
            let id = try #require(JobID(parsing: submitted.out.trimmingCharacters(in: .whitespacesAndNewlines)), "\(submitted.err)")
            let running = try TestProcess.eventually(timeout: 30) {
                try session.store().jobsList(limit: 10, states: nil).first?.id == id
                    && (try PostgresConnection(conninfo: session.conninfo).execute("SELECT count(*) FROM chunk WHERE state = 'leased'").int(0, 0) ?? 0) > 0
            }
            try #require(running)
            let cancelled = try session.batch(["cancel", "\(id)"], input: "", as: alice)
            #expect(cancelled.status == 0, "\(cancelled.err)")
            #expect(try session.store().jobFetch(id)?.state == .cancelled)
            let leased = try PostgresConnection(conninfo: session.conninfo).execute("SELECT count(*) FROM chunk WHERE state = 'leased'").int(0, 0)
            #expect(leased == 0)
        }

        @Test func aReaderSeesEveryJobAndWritesNothing() throws {
            let session = try Session()
            let alice = try session.createRole("alice", in: "batch_submitter")
            let reader = try session.createRole("reader", in: "batch_reader")
            let submitted = try session.batch(["submit", "--", "echo"], input: "1\n", as: alice)
            #expect(submitted.status == 0, "\(submitted.err)")
            let listed = try session.batch(["list"], input: "", as: reader)
            #expect(listed.out.contains("echo"), "\(listed.out) \(listed.err)")
            let cancel = try session.batch(["cancel", "1"], input: "", as: reader)
            #expect(cancel.status != 0)
            #expect(try session.store().jobFetch(JobID(1))?.state == .sealed)
        }
    }
}
