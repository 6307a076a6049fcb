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
        let path = directory.file("v1.db")
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteStore.migrator.migrate(queue, upTo: "v1: jobs, items, chunks, results, daemons")
            try queue.write { db in
                try db.execute(sql: """
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
            }
            try queue.close()
        }
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
}

