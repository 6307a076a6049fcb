import BatchStore
@testable import BatchPostgres
import Foundation
import Testing

/// The PostgreSQL backend as far as it goes (schema, clock, daemons), on a
/// real server: the throw-away cluster of `scripts/test`.
@Suite struct PostgresStoreTests {
    @Test func sixStoresMigratingANewDatabaseAtOnceMigrateItOnce() async throws {
        let conninfo = try PostgresCluster.freshDatabase()
        let failures = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    // Blocking calls, each on a thread of its own.
                    await withCheckedContinuation { continuation in
                        Thread {
                            do {
                                let store = try PostgresStore(conninfo: conninfo)
                                store.close()
                                continuation.resume(returning: nil)
                            } catch {
                                continuation.resume(returning: "\(error)")
                            }
                        }.start()
                    }
                }
            }
            return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
        }
        #expect(failures == [])
        let store = try PostgresStore(conninfo: conninfo)
        #expect(try store.appliedMigrations() == PostgresSchema.migrations.map(\.name), "each migration applied once")
    }

    @Test func aDatabaseMigratedByANewerReleaseIsRefusedUntouched() throws {
        let conninfo = try PostgresCluster.freshDatabase()
        _ = try PostgresStore(conninfo: conninfo)
        let admin = try PostgresConnection(conninfo: conninfo)
        try admin.execute("INSERT INTO batch_migration (name) VALUES ('v99: from the future')")
        #expect {
            _ = try PostgresStore(conninfo: conninfo)
        } throws: { error in
            (error as? StoreError)?.message.contains("migrated by a newer release of batch (v99: from the future)") == true
        }
        let names = try admin.execute("SELECT count(*) FROM batch_migration")
        #expect(names.int(0, 0) == Int64(PostgresSchema.migrations.count + 1), "nothing was written")
    }

    /// A database of the previous schema (v2, before roles) opens with
    /// this release, gains v3, and keeps its jobs, items and results.
    @Test func aDatabaseOfThePreviousSchemaIsUpgradedWithItsJobs() throws {
        let conninfo = try PostgresCluster.freshDatabase()
        let admin = try PostgresConnection(conninfo: conninfo)
        try admin.executeScript("CREATE TABLE batch_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        for migration in PostgresSchema.migrations.prefix(2) {
            try admin.executeScript(migration.sql)
            try admin.execute("INSERT INTO batch_migration (name) VALUES ($1)", [.text(migration.name)])
        }
        try admin.executeScript("""
            INSERT INTO job (command, command_bytes, working_directory, environment, chunk_size, nul_separated, stream,
                             retries, retry_delay, max_output, state, item_count, next_line, finished_count, next_sequence)
            VALUES ('{echo}', '\\x5b226563686f225d', '\\x2f746d70', '', 0, false, false, 0, 0, 1000, 'sealed', 2, 3, 1, 2);
            INSERT INTO item (job_id, line, data) VALUES (1, 1, 'one'), (1, 2, 'two');
            INSERT INTO result (job_id, line, sequence, status, exit_status, output, error_output, attempts, started_at, finished_at)
            VALUES (1, 1, 1, 'succeeded', 0, 'one', '', 1, now(), now());
            """)
        let store = try PostgresStore(conninfo: conninfo)
        #expect(try store.appliedMigrations() == PostgresSchema.migrations.map(\.name))
        let job = try #require(try store.jobFetch(JobID(1)))
        #expect(job.state == .sealed && job.itemCount == 2 && job.finishedCount == 1)
        #expect(try store.resultsByLine(job: job.id, afterLine: 0, limit: 10).map(\.outcome.output) == [Data("one".utf8)])
        #expect(try store.itemFetch(job: job.id, line: 2) == Data("two".utf8))
    }

    /// A database of the schema before v5 (foreign keys declared) opens,
    /// keeps its rows, and the same rules hold through v5's statement-level
    /// checks: no item without its job, no result without its item, and a
    /// removed job takes its items and results with it.
    @Test func referentialRulesHoldAfterTheUpgradeToStatementChecks() throws {
        let conninfo = try PostgresCluster.freshDatabase()
        let admin = try PostgresConnection(conninfo: conninfo)
        try admin.executeScript("CREATE TABLE batch_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        let previous = PostgresSchema.migrations.firstIndex { $0.name.hasPrefix("v5:") }!
        for migration in PostgresSchema.migrations.prefix(previous) {
            try admin.executeScript(migration.sql)
            try admin.execute("INSERT INTO batch_migration (name) VALUES ($1)", [.text(migration.name)])
        }
        try admin.executeScript("""
            INSERT INTO job (command, command_bytes, working_directory, environment, chunk_size, nul_separated, stream,
                             retries, retry_delay, max_output, state, item_count, next_line, finished_count, next_sequence)
            VALUES ('{echo}', '\\x5b226563686f225d', '\\x2f746d70', '', 0, false, false, 0, 0, 1000, 'sealed', 2, 3, 1, 2),
                   ('{echo}', '\\x5b226563686f225d', '\\x2f746d70', '', 0, false, false, 0, 0, 1000, 'sealed', 1, 2, 0, 1);
            INSERT INTO item (job_id, line, data) VALUES (1, 1, 'one'), (1, 2, 'two'), (2, 1, 'other');
            INSERT INTO result (job_id, line, sequence, status, exit_status, output, error_output, attempts, started_at, finished_at)
            VALUES (1, 1, 1, 'succeeded', 0, 'one', '', 1, now(), now());
            """)
        let store = try PostgresStore(conninfo: conninfo)
        #expect(try store.appliedMigrations() == PostgresSchema.migrations.map(\.name))
        #expect(try store.resultsByLine(job: JobID(1), afterLine: 0, limit: 10).map(\.outcome.output) == [Data("one".utf8)])

        func refusal(_ sql: String) -> String? {
            do { try admin.execute(sql); return nil } catch { return "\(error)" }
        }
        let orphanItem = refusal("INSERT INTO item (job_id, line, data) VALUES (1, 3, 'three'), (99, 1, 'nobody')")
        #expect(orphanItem?.contains("its job does not exist") == true, "\(orphanItem ?? "accepted")")
        let orphanResult = refusal("""
            INSERT INTO result (job_id, line, sequence, status, exit_status, output, error_output, attempts, started_at, finished_at)
            VALUES (1, 2, 2, 'succeeded', 0, 'two', '', 1, now(), now()), (1, 7, 3, 'succeeded', 0, 'seven', '', 1, now(), now())
            """)
        #expect(orphanResult?.contains("its item does not exist") == true, "\(orphanResult ?? "accepted")")
        #expect(try admin.execute("SELECT count(*) FROM item WHERE job_id = 1").int(0, 0) == 2, "the refused statement left nothing")

        try store.jobDelete(JobID(1), force: true)
        #expect(try admin.execute("SELECT count(*) FROM item WHERE job_id = 1").int(0, 0) == 0)
        #expect(try admin.execute("SELECT count(*) FROM result WHERE job_id = 1").int(0, 0) == 0)
        #expect(try admin.execute("SELECT count(*) FROM item WHERE job_id = 2").int(0, 0) == 1, "another job keeps its items")
    }

    /// A page of results is read down the index in its order, also from a
    /// table autovacuum has not analyzed yet (right after a big job): the
    /// planner took a bitmap scan of every later row and a sort instead,
    /// 20-40 ms a page, and `batch wait` took 30 s for 200,000 results.
    @Test func resultPagesFollowTheIndexBeforeAnyAnalyze() throws {
        let conninfo = try PostgresCluster.freshDatabase()
        let store = try PostgresStore(conninfo: conninfo)
        let job = try store.jobCreate(StoreConformance.spec(), now: StoreConformance.t0)
        try store.run { c in
            try c.executeScript("""
                INSERT INTO item (job_id, line, data) SELECT \(job.id.rawValue), n, 'x' FROM generate_series(1, 200000) n;
                INSERT INTO result (job_id, line, sequence, status, exit_status, output, error_output, attempts, started_at, finished_at)
                SELECT \(job.id.rawValue), n, n, 'succeeded', 0, 'x', '', 1, now(), now() FROM generate_series(1, 200000) n;
                """)
        }
        for query in [
            "SELECT line FROM result WHERE job_id = \(job.id.rawValue) AND line > 0 ORDER BY line LIMIT 512",
            "SELECT line FROM result WHERE job_id = \(job.id.rawValue) AND sequence > 0 ORDER BY sequence LIMIT 512",
        ] {
            let plan = try store.run { c in try c.execute("EXPLAIN " + query) }
            let text = (0..<plan.count).compactMap { plan.string($0, 0) }.joined(separator: "\n")
            #expect(!text.contains("Sort") && !text.contains("Bitmap"), "\(text)")
        }
    }

    /// Over TCP, the connection uses TLS when the string asks for it
    /// (`sslmode`, as libpq reads it). The test cluster takes loopback
    /// connections over TLS only.
    @Test func sslmodeRequireConnectsOverTLS() throws {
        let conninfo = try PostgresCluster.freshDatabase() + " host=127.0.0.1"
        let store = try PostgresStore(conninfo: conninfo + " sslmode=require")
        let tls = try store.run { try $0.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") }
        #expect(tls.bool(0, 0) == true)
        store.close()
        #expect(throws: StoreError.self, "plain TCP is refused on loopback: TLS was what let the first in") {
            _ = try PostgresStore(conninfo: conninfo + " sslmode=disable")
        }
    }

    /// The clock a daemon writes leases and heartbeats with is the
    /// server's: the same for daemons on every host.
    @Test func theStoresClockIsTheServers() throws {
        let conninfo = try PostgresCluster.freshDatabase()
        let store = try PostgresStore(conninfo: conninfo)
        let before = try store.storageClock()
        let server = try PostgresConnection(conninfo: conninfo).execute("SELECT extract(epoch FROM clock_timestamp())::float8")
        let after = try store.storageClock()
        let serverNow = try #require(server.double(0, 0))
        #expect(before.timeIntervalSince1970 <= serverNow && serverNow <= after.timeIntervalSince1970)
    }

    @Test(arguments: [
        "postgresql://batch:s3cret-pw@db.example:5433/jobs",
        "host=db.example port=5433 user=batch password=s3cret-pw dbname=jobs",
        "postgres://batch:s3cret-pw@db.example:5433/jobs?sslmode=require",
        "host=db.example port=5433 user=batch password='s3cret-pw' dbname=jobs",
    ])
    func aPasswordIsNeverShown(_ conninfo: String) {
        let shown = PostgresConnection.redacted(conninfo)
        #expect(!shown.contains("s3cret"), "\(shown)")
        #expect(shown == "postgresql://batch@db.example:5433/jobs")
        // What `status` and messages show of a location (no libpq there).
        let location = StoreLocation.postgres(conninfo).description
        #expect(!location.contains("s3cret"), "\(location)")
        #expect(location.contains("db.example"), "\(location)")
    }

    /// Rows travel as array literals: quotes, backslashes, commas, braces,
    /// NULLs and any bytes come back as they went.
    @Test func arrayParametersRoundTrip() throws {
        let connection = try PostgresConnection(conninfo: try PostgresCluster.freshDatabase())
        let texts: [String?] = ["plain", "a \"quoted\" word", "back\\slash", "{braces}, and commas", nil, "", "NULL", "é ✓"]
        let rows = try connection.execute("SELECT t FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n",
                                          [.text(PostgresArray.texts(texts))])
        #expect((0..<rows.count).map { rows.string($0, 0) } == texts)
        let blobs = [Data(), Data([0, 1, 2, 255, 34, 92, 44, 123, 125]), Data("text".utf8)]
        let bytes = try connection.execute("SELECT b FROM unnest($1::bytea[]) WITH ORDINALITY AS u(b, n) ORDER BY n",
                                           [.text(PostgresArray.bytes(blobs))])
        #expect((0..<bytes.count).map { bytes.data($0, 0) } == blobs)
    }

    @Test func anUnreachableServerIsUnavailableAndNamesNoPassword() {
        #expect {
            _ = try PostgresStore(conninfo: "postgresql://batch:s3cret-pw@127.0.0.1:1/jobs?connect_timeout=2")
        } throws: { error in
            let error = error as? StoreError
            return error?.code == .unavailable && error?.message.contains("s3cret") == false
                && error?.message.contains("postgresql://batch@127.0.0.1:1/jobs") == true
        }
    }
}
