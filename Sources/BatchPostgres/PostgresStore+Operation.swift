import BatchStore
import Foundation

/// What an operator needs of a PostgreSQL store: the backlog for metrics
/// and a readiness probe. (Backups are `pg_dump`'s job.)
extension PostgresStore {
    public func storeBacklog(now: Date) throws -> StoreBacklog {
        try run { c in
            var jobs: [JobState: Int64] = [:]
            let states = try c.execute("SELECT state, count(*) FROM job GROUP BY state")
            for row in 0..<states.count {
                if let state = states.string(row, 0).flatMap(JobState.init(rawValue:)) { jobs[state] = states.int(row, 1) ?? 0 }
            }
            let rows = try c.execute("""
                SELECT
                  (SELECT coalesce(sum(item_count - finished_count), 0)::bigint FROM job WHERE state IN ('open', 'sealed')),
                  (SELECT coalesce(sum(chunk.last_line - chunk.first_line + 1
                      - (SELECT count(*) FROM result
                         WHERE result.job_id = chunk.job_id AND result.line BETWEEN chunk.first_line AND chunk.last_line)), 0)::bigint
                   FROM chunk WHERE chunk.state = 'leased'),
                  (SELECT extract(epoch FROM min(created_at))::float8 FROM job WHERE state IN ('open', 'sealed')
                      AND (next_line <= item_count
                           OR EXISTS (SELECT 1 FROM chunk WHERE chunk.job_id = job.id AND chunk.state = 'released')))
                """)
            let unfinished = rows.int(0, 0) ?? 0
            let running = rows.int(0, 1) ?? 0
            return StoreBacklog(
                pendingItems: max(0, unfinished - running), runningItems: running, jobs: jobs,
                oldestPendingSeconds: rows.double(0, 2).map { max(0, now.timeIntervalSince1970 - $0) } ?? 0)
        }
    }

    /// Asks for a transaction id (which a read-only server, a standby, cannot
    /// give) under a statement timeout, on a connection of its own.
    public func storageProbeWrite(timeout: TimeInterval) throws {
        try probeConnection.withLock { connection in
            do {
                if connection == nil { connection = try PostgresConnection(conninfo: conninfo) }
                try connection!.transaction {
                    _ = try connection!.execute("SET LOCAL statement_timeout = \(max(1, Int(timeout * 1000)))")
                    _ = try connection!.execute("SELECT txid_current()")
                }
            } catch {
                connection?.close()
                connection = nil
                throw error
            }
        }
    }
}
