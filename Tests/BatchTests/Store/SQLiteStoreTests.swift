@testable import BatchStore
@testable import BatchWorker
import GRDB
import Foundation
import Testing

/// What is the SQLite backend's own (the conformance suite runs in
/// `ConformanceTests`, over every backend).
@Suite struct SQLiteStoreTests {
    let directory = TemporaryDirectory()

    func make() throws -> any BatchStore {
        try SQLiteStore(path: directory.file("store-\(UUID().uuidString.prefix(6)).db"))
    }

    // MARK: - SQLite's own

    @Test func connectionsOpeningANewFileAtOnceAllSucceed() async throws {
        // The race `scripts/demo` once lost: a CLI and the daemon it starts both
        // create the schema of a new file. Separate pools lock like processes.
        // Opening blocks (it waits for the lock), so each runs on a thread of
        // its own rather than on one of Swift's few cooperative threads.
        for round in 0..<20 {
            let path = directory.file("race-\(round).db")
            let failures = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        await BlockingThreads.shared.value {
                            do {
                                _ = try SQLiteStore(path: path)
                                return nil
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                }
                return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
            }
            #expect(failures == [])
        }
    }

    @Test func newDatabaseIsOwnerOnly() throws {
        let path = directory.file("sub/dir/new.db")
        _ = try SQLiteStore(path: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func fileThatIsNotADatabaseIsLeftUntouched() throws {
        let path = directory.file("notes.txt")
        let bytes = Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try bytes.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path) }
        #expect(error?.code == .notADatabase)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func otherProgramsDatabaseIsRefused() throws {
        let path = directory.file("other.db")
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table t(x)'); c.commit()", path]
        try sqlite.run()
        sqlite.waitUntilExit()
        try #require(sqlite.terminationStatus == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path) }
        #expect(error?.code == .notADatabase)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func reopeningKeepsEverything() throws {
        let path = directory.file("reopen.db")
        let id: JobID
        do {
            let store = try SQLiteStore(path: path)
            id = try store.jobCreate(StoreConformance.spec(), now: StoreConformance.t0).id
            try store.itemsAppendIfOpen(job: id, firstLine: 1, items: StoreConformance.items(["x"]))
            try store.close()
        }
        let store = try SQLiteStore(path: path)
        #expect(try store.jobFetch(id)?.itemCount == 1)
    }

    /// A database made by the first schema opens with this release and keeps
    /// every job, item, chunk and result (issue 9: chunk ids are never
    /// reused from v2 on, and the file is marked as batch's).
    @Test func upgradesADatabaseOfTheFirstSchema() throws {
        let path = try database(directory.file("v1.db"), migratedUpTo: "v1: jobs, items, chunks, results, daemons", then: """
            INSERT INTO job (id, command, working_directory, environment, chunk_size, nul_separated, stream,
                             retries, retry_delay, max_output, state, item_count, next_line, finished_count,
                             created_at, sealed_at)
            VALUES (7, '["echo"]', '/tmp', x'', 0, 0, 0, 0, 1, 100, 'sealed', 3, 3, 1, 1.0, 2.0);
            INSERT INTO item (job_id, line, data) VALUES (7, 1, x'61'), (7, 2, x'62'), (7, 3, x'63');
            INSERT INTO chunk (id, job_id, first_line, last_line, state, fence) VALUES (5, 7, 1, 2, 'released', 2);
            INSERT INTO result (job_id, line, sequence, status, exit_status, output, error_output, attempts,
                                started_at, finished_at)
            VALUES (7, 1, 1, 'succeeded', 0, x'610a', x'', 1, 1.0, 1.5);
            """)
        let store = try SQLiteStore(path: path)
        let job = try #require(try store.jobFetch(JobID(7)))
        #expect(job.state == .sealed && job.itemCount == 3 && job.finishedCount == 1)
        #expect(try store.resultsByLine(job: job.id, afterLine: 0, limit: 10).map(\.line) == [1])
        let lease = try #require(try store.chunkClaim(owner: "d", now: Date(), leaseDuration: 30) { _, _ in 10 })
        #expect(lease.chunkID == 5 && lease.fence == 3 && lease.firstLine == 1 && lease.lastLine == 2)
        #expect(try store.itemsPending(for: lease, afterLine: 0, limit: 10).map(\.line) == [2])
        // The next chunk gets a new id even after the highest one is deleted.
        let next = try #require(try store.chunkClaim(owner: "d", now: Date(), leaseDuration: 30) { _, _ in 10 })
        #expect(next.chunkID == 6)
        _ = try store.jobCancelIfRunnable(job.id, now: Date())
        try store.jobDelete(job.id, force: false)
        let again = try store.jobCreate(StoreConformance.spec(), now: Date())
        try store.itemsAppendIfOpen(job: again.id, firstLine: 1, items: StoreConformance.items(["x"]))
        let fresh = try #require(try store.chunkClaim(owner: "d", now: Date(), leaseDuration: 30) { _, _ in 10 })
        #expect(fresh.chunkID == 7, "chunk ids are never reused")
        let applicationID = try store.read { try Int32.fetchOne($0, sql: "PRAGMA application_id") }
        #expect(applicationID == SQLiteStore.applicationID)
    }

    /// A database of the schema before v10 (items and results as rowid
    /// tables) keeps every item and result, in both orders, when its tables
    /// are rewritten in their key's order; a removed job still takes its rows
    /// with it.
    @Test func upgradesItemsAndResultsToTablesInKeyOrder() throws {
        let path = try database(directory.file("v9.db"), migratedUpTo: "v9: daemons record their release", then: """
            INSERT INTO job (id, command, working_directory, environment, chunk_size, nul_separated, stream,
                             retries, retry_delay, max_output, state, item_count, next_line, finished_count,
                             created_at, sealed_at)
            VALUES (3, '["echo"]', '/tmp', x'', 0, 0, 0, 0, 1, 100, 'sealed', 4, 5, 3, 1.0, 2.0),
                   (4, '["echo"]', '/tmp', x'', 0, 0, 0, 0, 1, 100, 'sealed', 1, 1, 0, 1.0, 2.0);
            INSERT INTO item (job_id, line, data) VALUES (3, 2, x'62'), (3, 1, x'61'), (3, 4, x'64'), (3, 3, x'63'),
                                                         (4, 1, x'7a');
            INSERT INTO result (job_id, line, sequence, status, exit_status, output, error_output, attempts,
                                started_at, finished_at, group_first, group_last)
            VALUES (3, 4, 1, 'succeeded', 0, x'640a', x'', 1, 1.0, 1.5, NULL, NULL),
                   (3, 1, 2, 'failed', 3, x'', x'6f6f7073', 2, 1.0, 1.6, NULL, NULL),
                   (3, 2, 3, 'succeeded', 0, x'620a', x'', 1, 1.0, 1.7, 2, 3);
            """)
        let store = try SQLiteStore(path: path)
        let job = try #require(try store.jobFetch(JobID(3)))
        #expect(job.itemCount == 4 && job.finishedCount == 3)
        let byLine = try store.resultsByLine(job: job.id, afterLine: 0, limit: 10)
        #expect(byLine.map(\.line) == [1, 2, 4])
        #expect(byLine.map(\.outcome.status) == [.failed, .succeeded, .succeeded])
        #expect(byLine[0].outcome.errorOutput == Data("oops".utf8) && byLine[0].attempts == 2)
        #expect(byLine[1].outcome.group == 2...3)
        #expect(try store.resultsBySequence(job: job.id, afterSequence: 0, limit: 10).map(\.line) == [4, 1, 2])
        let items = try store.read { db in
            try Data.fetchAll(db, sql: "SELECT data FROM item WHERE key >> 32 = 3 ORDER BY key")
        }
        #expect(items == [Data("a".utf8), Data("b".utf8), Data("c".utf8), Data("d".utf8)])
        try store.jobDelete(job.id, force: true)
        let left = try store.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM item WHERE key >> 32 = 3") ?? -1,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM result WHERE key >> 32 = 3") ?? -1,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM item WHERE key >> 32 = 4") ?? -1)
        }
        #expect(left == (0, 0, 1), "a removed job's items and results go with it, another's stay")
    }

    /// A database of schema v10 (items and results keyed by `(job_id, line)`
    /// and checked by foreign keys, completion order a unique index) keeps
    /// every item and result, in both orders, when v11 keys them by one
    /// integer, drops the foreign keys and keeps the completion order as
    /// runs; a job removed by `rm` or by `--keep` still takes its items and
    /// results with it (a trigger does what the keys' cascades did), another
    /// job's stay.
    @Test func upgradesItemsAndResultsToTablesWithoutForeignKeys() throws {
        let path = try database(directory.file("v10.db"), migratedUpTo: "v10: items and results stored in their key's order", then: """
            INSERT INTO job (id, command, working_directory, environment, chunk_size, nul_separated, stream,
                             retries, retry_delay, max_output, state, item_count, next_line, finished_count,
                             created_at, sealed_at, finished_at)
            VALUES (3, '["echo"]', '/tmp', x'', 0, 0, 0, 0, 1, 100, 'complete', 2, 3, 2, 1.0, 2.0, 3.0),
                   (4, '["echo"]', '/tmp', x'', 0, 0, 0, 0, 1, 100, 'complete', 1, 2, 1, 1.0, 2.0, 3.0),
                   (5, '["echo"]', '/tmp', x'', 0, 0, 0, 0, 1, 100, 'sealed', 1, 2, 1, 1.0, 2.0, NULL);
            INSERT INTO item (job_id, line, data) VALUES (3, 1, x'61'), (3, 2, x'62'), (4, 1, x'63'), (5, 1, x'64');
            INSERT INTO result (job_id, line, sequence, status, exit_status, output, error_output, attempts,
                                started_at, finished_at, group_first, group_last)
            VALUES (3, 2, 1, 'succeeded', 0, x'620a', x'', 1, 1.0, 1.5, NULL, NULL),
                   (3, 1, 2, 'failed', 3, x'', x'6f6f7073', 2, 1.0, 1.6, NULL, NULL),
                   (4, 1, 1, 'succeeded', 0, x'630a', x'', 1, 1.0, 1.5, NULL, NULL),
                   (5, 1, 1, 'succeeded', 0, x'640a', x'', 1, 1.0, 1.5, NULL, NULL);
            """)
        let store = try SQLiteStore(path: path)
        let byLine = try store.resultsByLine(job: JobID(3), afterLine: 0, limit: 10)
        #expect(byLine.map(\.line) == [1, 2])
        #expect(byLine[0].outcome.status == .failed && byLine[0].outcome.errorOutput == Data("oops".utf8))
        #expect(byLine[1].outcome.output == Data("b\n".utf8))
        #expect(try store.resultsBySequence(job: JobID(3), afterSequence: 0, limit: 10).map(\.line) == [2, 1])
        #expect(try store.itemsFetch(job: JobID(3), lines: [1, 2]) == [1: Data("a".utf8), 2: Data("b".utf8)])
        let keys = try store.read { db in
            try Row.fetchAll(db, sql: "PRAGMA foreign_key_list(result)").count
                + Row.fetchAll(db, sql: "PRAGMA foreign_key_list(item)").count
        }
        #expect(keys == 0, "items and results are not checked per row")
        let layout = try store.read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE name IN ('item', 'result') ORDER BY name")
        }
        #expect(layout.count == 2 && layout.allSatisfy { $0.contains("key INTEGER PRIMARY KEY") && !$0.contains("WITHOUT ROWID") })
        try store.jobDelete(JobID(3), force: false)
        #expect(try store.jobsDeleteEnded(before: Date()) == [JobID(4)])
        let left = try store.read { db in
            try [3, 4, 5].map { job in
                try ["item", "result"].map { table in
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table) WHERE key >> 32 = ?", arguments: [job]) ?? -1
                }
            }
        }
        #expect(left == [[0, 0], [0, 0], [1, 1]], "removed jobs take their items and results with them, another's stay")
    }

    /// A database of schema v11 (results with a text status and CHECKs on
    /// every row) keeps every result, each field as it was, when v12 stores
    /// them as lean rows (an integer `failed`, no CHECKs); what reads them by
    /// status (failed items, a retry, recent durations) still finds them, and
    /// a removed job still takes its rows with it (the trigger made again).
    @Test func upgradesResultsToLeanRows() throws {
        let path = try database(directory.file("v11.db"), migratedUpTo: "v11: items and results keyed by one integer; completion order as runs", then: """
            INSERT INTO job (id, command, working_directory, environment, chunk_size, nul_separated, stream,
                             retries, retry_delay, max_output, state, item_count, next_line, finished_count, failed_count,
                             created_at, sealed_at, finished_at)
            VALUES (3, '["echo"]', '/tmp', x'', 0, 0, 0, 0, 1, 100, 'failed', 4, 5, 4, 2, 1.0, 2.0, 3.0),
                   (4, '["echo"]', '/tmp', x'', 0, 0, 0, 0, 1, 100, 'complete', 1, 2, 1, 0, 1.0, 2.0, 3.0);
            INSERT INTO item (key, data) VALUES
                ((3 << 32) + 1, x'61'), ((3 << 32) + 2, x'62'), ((3 << 32) + 3, x'63'), ((3 << 32) + 4, x'64'),
                ((4 << 32) + 1, x'65');
            INSERT INTO result (key, sequence, status, exit_status, signal, output, error_output, reason, attempts,
                                started_at, finished_at, group_first, group_last)
            VALUES ((3 << 32) + 1, 3, 'succeeded', 0, NULL, x'610a', x'', NULL, 1, 1.0, 1.25, NULL, NULL),
                   ((3 << 32) + 2, 4, 'failed', 3, NULL, x'', x'6f6f7073', NULL, 2, 1.0, 1.5, NULL, NULL),
                   ((3 << 32) + 3, 1, 'failed', NULL, 9, x'', x'', 'killed by signal 9', 1, 1.0, 1.75, NULL, NULL),
                   ((3 << 32) + 4, 2, 'succeeded', 0, NULL, x'640a', x'', NULL, 1, 1.0, 1.75, 4, 4),
                   ((4 << 32) + 1, 1, 'succeeded', 0, NULL, x'650a', x'', NULL, 1, 2.0, 2.5, NULL, NULL);
            INSERT INTO completion (job_id, first_sequence, first_line, last_line)
            VALUES (3, 1, 3, 4), (3, 3, 1, 2), (4, 1, 1, 1);
            """)
        let store = try SQLiteStore(path: path)
        let byLine = try store.resultsByLine(job: JobID(3), afterLine: 0, limit: 10)
        let t = { (seconds: Double) in Date(timeIntervalSince1970: seconds) }
        #expect(byLine == [
            ItemResult(line: 1, sequence: 3, outcome: ItemOutcome(
                status: .succeeded, exitStatus: 0, output: Data("a\n".utf8), startedAt: t(1), finishedAt: t(1.25)), attempts: 1),
            ItemResult(line: 2, sequence: 4, outcome: ItemOutcome(
                status: .failed, exitStatus: 3, errorOutput: Data("oops".utf8), startedAt: t(1), finishedAt: t(1.5)), attempts: 2),
            ItemResult(line: 3, sequence: 1, outcome: ItemOutcome(
                status: .failed, signal: 9, reason: "killed by signal 9", startedAt: t(1), finishedAt: t(1.75)), attempts: 1),
            ItemResult(line: 4, sequence: 2, outcome: ItemOutcome(
                status: .succeeded, exitStatus: 0, output: Data("d\n".utf8), startedAt: t(1), finishedAt: t(1.75), group: 4...4),
                attempts: 1),
        ])
        #expect(try store.resultsBySequence(job: JobID(3), afterSequence: 0, limit: 10).map(\.line) == [3, 4, 1, 2])
        #expect(try store.resultsFailed(job: JobID(3), limit: 10).map(\.line) == [2, 3])
        #expect(try store.resultsRecentDurations(job: JobID(3), limit: 10) == [0.25, 0.75])
        let table = try store.read { db in try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'result'") }
        #expect(table?.contains("failed INTEGER NOT NULL") == true && table?.contains("CHECK") == false)
        #expect(try store.jobRetryIfEnded(JobID(3), lines: nil, now: Date()) == 2, "the two failed lines run again")
        #expect(try store.resultsByLine(job: JobID(3), afterLine: 0, limit: 10).map(\.line) == [1, 4])
        try store.jobDelete(JobID(3), force: true)
        let left = try store.read { db in
            try ["item", "result", "completion"].map { table in
                try Int.fetchOne(db, sql: table == "completion"
                    ? "SELECT count(*) FROM completion WHERE job_id = ?" : "SELECT count(*) FROM \(table) WHERE key >> 32 = ?",
                    arguments: [3]) ?? -1
            }
        }
        #expect(left == [0, 0, 0], "a removed job takes its items, results and runs with it")
        #expect(try store.resultsByLine(job: JobID(4), afterLine: 0, limit: 10).map(\.outcome.output) == [Data("e\n".utf8)])
    }

    /// The limits of `ItemKey` are refused with an error that says so, never
    /// wrapped into another job's keys: a job's 4,294,967,296th item, and a
    /// job id past 2^31 - 1.
    @Test func itemKeyLimitsAreRefusedNotWrapped() throws {
        let store = try SQLiteStore(path: directory.file("limits.db"))
        let job = try store.jobCreate(StoreConformance.spec(), now: StoreConformance.t0)
        try store.write { db in
            try db.execute(sql: "UPDATE job SET item_count = ? WHERE id = ?", arguments: [ItemKey.maxLine - 1, job.id.rawValue])
        }
        try store.itemsAppendIfOpen(job: job.id, firstLine: ItemKey.maxLine, items: StoreConformance.items(["last"]))
        #expect(try store.itemFetch(job: job.id, line: ItemKey.maxLine) == Data("last".utf8))
        let full = #expect(throws: StoreError.self) {
            try store.itemsAppendIfOpen(job: job.id, firstLine: ItemKey.maxLine + 1, items: StoreConformance.items(["one more"]))
        }
        #expect(full?.code == .jobState && full?.message.contains("at most 4294967295 items") == true)
        try store.write { db in
            try db.execute(sql: "UPDATE sqlite_sequence SET seq = ? WHERE name = 'job'", arguments: [ItemKey.maxJob - 1])
        }
        let last = try store.jobCreate(StoreConformance.spec(), now: StoreConformance.t0)
        #expect(last.id.rawValue == ItemKey.maxJob)
        let none = #expect(throws: StoreError.self) { _ = try store.jobCreate(StoreConformance.spec(), now: StoreConformance.t0) }
        #expect(none?.message.contains("last job id") == true)
        #expect(try store.jobsList(limit: 10).count == 2, "the refused job is not stored")
    }

    /// A database file migrated up to `migration` only (as an earlier
    /// release left it), with `sql` run on it.
    private func database(_ path: String, migratedUpTo migration: String, then sql: String) throws -> String {
        let queue = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(queue, upTo: migration)
        try queue.write { db in try db.execute(sql: sql) }
        try queue.close()
        return path
    }
}
