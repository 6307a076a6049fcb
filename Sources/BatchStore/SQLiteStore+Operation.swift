import Foundation
import GRDB

/// What an operator needs of a SQLite store: the backlog for metrics, a
/// readiness probe, and an online backup.
extension SQLiteStore {
    public func storeBacklog(now: Date) throws -> StoreBacklog {
        try read { db in
            var jobs: [JobState: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) FROM job GROUP BY state") {
                if let state = JobState(rawValue: row[0]) { jobs[state] = row[1] }
            }
            // Runnable jobs through their partial index; leased chunks through
            // theirs, each counting only its own results (a chunk's range).
            let unfinished = try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(item_count - finished_count), 0) FROM job WHERE state IN ('open', 'sealed')
                """) ?? 0
            let running = try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(chunk.last_line - chunk.first_line + 1
                    - (SELECT COUNT(*) FROM result
                       WHERE result.key BETWEEN (chunk.job_id << 32) + chunk.first_line
                                            AND (chunk.job_id << 32) + chunk.last_line)), 0)
                FROM chunk INDEXED BY chunk_owner WHERE chunk.owner IS NOT NULL AND chunk.state = 'leased'
                """) ?? 0
            let oldest = try Double.fetchOne(db, sql: """
                SELECT MIN(created_at) FROM job WHERE state IN ('open', 'sealed')
                    AND (next_line <= item_count
                         OR EXISTS (SELECT 1 FROM chunk WHERE chunk.job_id = job.id AND chunk.state = 'released'))
                """)
            return StoreBacklog(
                pendingItems: max(0, unfinished - running), runningItems: running, jobs: jobs,
                oldestPendingSeconds: oldest.map { max(0, now.timeIntervalSince1970 - $0) } ?? 0)
        }
    }

    /// Takes the write lock (`BEGIN IMMEDIATE`) on a connection of its own
    /// and rolls back at once.
    public func storageProbeWrite(timeout: TimeInterval) throws {
        do {
            try probeWriter.withLock { writer in
                if writer == nil {
                    var config = Configuration()
                    config.busyMode = .timeout(timeout)
                    config.label = "batch-probe"
                    writer = try DatabaseQueue(path: path, configuration: config)
                }
                try writer!.writeWithoutTransaction { db in
                    try db.execute(sql: "BEGIN IMMEDIATE")
                    try db.execute(sql: "ROLLBACK")
                }
            }
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    /// Writes a consistent copy of the database to `destination` while
    /// other processes go on writing (`VACUUM INTO` on a read snapshot): a
    /// file batch opens as it is. The copy is readable by its owner only,
    /// as the store is; an existing file is refused.
    public func backup(to destination: String) throws {
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw StoreError(.cannotOpen, "\(destination) exists; a backup never overwrites a file")
        }
        let previous = umask(0o077)
        defer { umask(previous) }
        do {
            var config = Configuration()
            config.readonly = true
            config.busyMode = .timeout(30)
            let source = try DatabaseQueue(path: path, configuration: config)
            defer { try? source.close() }
            try source.inDatabase { db in try db.execute(sql: "VACUUM INTO ?", arguments: [destination]) }
        } catch {
            throw Self.storeError(error, path: path)
        }
    }
}
