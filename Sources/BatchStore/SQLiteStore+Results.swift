import Foundation
import GRDB
import GRDBSQLite

extension SQLiteStore {
    /// A result's line comes from its key (`ItemKey`); its status from
    /// `failed` (schema v12: 0 or 1).
    static let resultColumns = """
        key & 4294967295, sequence, failed, exit_status, signal, output, error_output, reason, attempts, started_at, finished_at,
        group_first, group_last
        """

    /// Runs a `SELECT resultColumns ... ?1 ?2 ?3` query with the three
    /// integers bound, and reads its rows with SQLite's C API, by position:
    /// followers read every result through here, and GRDB's row decoding
    /// (a column looked up by name, a generic decode per value) was half of a
    /// follower's CPU in stream mode (measured with perf).
    static func fetchResults(_ db: Database, sql: String, _ first: Int64, _ second: Int64, _ third: Int64) throws -> [ItemResult] {
        let statement = try db.cachedStatement(sql: sql)
        let raw = statement.sqliteStatement
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
        sqlite3_bind_int64(raw, 1, first)
        sqlite3_bind_int64(raw, 2, second)
        sqlite3_bind_int64(raw, 3, third)
        defer { sqlite3_reset(raw) }
        func int(_ column: Int32) -> Int32? {
            sqlite3_column_type(raw, column) == SQLITE_NULL ? nil : sqlite3_column_int(raw, column)
        }
        func text(_ column: Int32) -> String? {
            sqlite3_column_text(raw, column).map { String(cString: $0) }
        }
        func blob(_ column: Int32) -> Data {
            guard let bytes = sqlite3_column_blob(raw, column) else { return Data() }
            return Data(bytes: bytes, count: Int(sqlite3_column_bytes(raw, column)))
        }
        var results: [ItemResult] = []
        while true {
            let code = sqlite3_step(raw)
            if code == SQLITE_DONE { return results }
            guard code == SQLITE_ROW else {
                throw Self.stepFailure(code, db)
            }
            let outcome = ItemOutcome(
                status: sqlite3_column_int64(raw, 2) == 0 ? .succeeded : .failed,
                exitStatus: int(3),
                signal: int(4),
                output: blob(5),
                errorOutput: blob(6),
                reason: text(7),
                startedAt: Date(timeIntervalSince1970: sqlite3_column_double(raw, 9)),
                finishedAt: Date(timeIntervalSince1970: sqlite3_column_double(raw, 10)),
                group: sqlite3_column_type(raw, 11) == SQLITE_NULL
                    ? nil : sqlite3_column_int64(raw, 11)...max(sqlite3_column_int64(raw, 11), sqlite3_column_int64(raw, 12)))
            results.append(ItemResult(
                line: sqlite3_column_int64(raw, 0), sequence: sqlite3_column_int64(raw, 1), outcome: outcome,
                attempts: Int(sqlite3_column_int64(raw, 8))))
        }
    }

    public func resultsByLine(job: JobID, afterLine: Int64, limit: Int) throws -> [ItemResult] {
        try read { db in
            try Self.fetchResults(
                db, sql: """
                    SELECT \(Self.resultColumns) FROM result
                    WHERE key > (?1 << 32) + max(?2, 0) AND key <= (?1 << 32) + 4294967295 ORDER BY key LIMIT ?3
                    """,
                job.rawValue, afterLine, Int64(limit))
        }
    }

    /// Results in completion order come from `completion`'s runs (schema
    /// v11, `CompletionRuns`): each run's results by line, only those whose
    /// sequence is the run's for their line (a line retried since has a newer
    /// result, in a later run). The runs are walked in their key's order and
    /// each run's results in their key's order, so nothing is sorted.
    static let resultsInCompletionOrder = """
        completion AS c
        JOIN result AS r ON r.key BETWEEN (c.job_id << 32) + c.first_line AND (c.job_id << 32) + c.last_line
            AND r.sequence = c.first_sequence + (r.key - (c.job_id << 32) - c.first_line)
        """

    public func resultsBySequence(job: JobID, afterSequence: Int64, limit: Int) throws -> [ItemResult] {
        // From the run that holds the first sequence wanted.
        try read { db in
            try Self.fetchResults(
                db, sql: """
                    SELECT \(Self.resultColumns) FROM \(Self.resultsInCompletionOrder)
                    WHERE c.job_id = ?1 AND r.sequence > ?2
                      AND c.first_sequence >= coalesce(
                          (SELECT max(first_sequence) FROM completion WHERE job_id = ?1 AND first_sequence <= ?2 + 1), 0)
                    ORDER BY c.first_sequence, r.key LIMIT ?3
                    """,
                job.rawValue, afterSequence, Int64(limit))
        }
    }

    public func resultsCount(job: JobID, finishedSince since: Date) throws -> Int {
        // Recent results have the highest sequence numbers: walk back from the newest.
        try read { db in
            try Int.fetchOne(
                db, sql: """
                    SELECT count(*) FROM (
                        SELECT r.finished_at FROM \(Self.resultsInCompletionOrder)
                        WHERE c.job_id = ? ORDER BY c.first_sequence DESC, r.key DESC LIMIT 100000)
                    WHERE finished_at >= ?
                    """,
                arguments: [job.rawValue, since.timeIntervalSince1970]) ?? 0
        }
    }

    public func itemCounts(job: JobID) throws -> (claimed: Int64, attempts: Int64, retried: Int64) {
        try read { db in
            let claimed = try Int64.fetchOne(
                db, sql: """
                    SELECT count(*) FROM chunk JOIN item
                        ON item.key BETWEEN (chunk.job_id << 32) + chunk.first_line AND (chunk.job_id << 32) + chunk.last_line
                    WHERE chunk.job_id = ? AND chunk.state = 'leased'
                      AND NOT EXISTS (SELECT 1 FROM result WHERE result.key = item.key)
                    """,
                arguments: [job.rawValue]) ?? 0
            let keys = ItemKey.range(of: job.rawValue)
            let row = try Row.fetchOne(
                db, sql: """
                    SELECT coalesce(sum(attempts), 0) AS attempts, count(*) FILTER (WHERE attempts > 1) AS retried
                    FROM result WHERE key BETWEEN ? AND ?
                    """,
                arguments: [keys.lowerBound, keys.upperBound])
            return (claimed, row?["attempts"] ?? 0, row?["retried"] ?? 0)
        }
    }

    public func resultsFailed(job: JobID, limit: Int) throws -> [ItemResult] {
        try read { db in
            try Self.fetchResults(
                db, sql: """
                    SELECT \(Self.resultColumns) FROM result
                    WHERE key > (?1 << 32) + ?2 AND key <= (?1 << 32) + 4294967295 AND failed ORDER BY key LIMIT ?3
                    """,
                job.rawValue, 0, Int64(limit))
        }
    }

    public func resultsMedianDuration(job: JobID) throws -> Double? {
        let durations = try resultsRecentDurations(job: job, limit: 1001).sorted()
        return durations.isEmpty ? nil : durations[durations.count / 2]
    }

    public func resultsRecentDurations(job: JobID, limit: Int) throws -> [Double] {
        try read { db in
            try Double.fetchAll(
                db.cachedStatement(sql: """
                    SELECT r.finished_at - r.started_at FROM \(Self.resultsInCompletionOrder)
                    WHERE c.job_id = ? AND NOT r.failed ORDER BY c.first_sequence DESC, r.key DESC LIMIT ?
                    """),
                arguments: [job.rawValue, limit])
        }
    }

    public func resultsFinishTimes(job: JobID, sequences: [Int64]) throws -> [Int64: Date] {
        guard !sequences.isEmpty else { return [:] }
        return try read { db in
            // Each sequence's line is found in the run that holds it.
            let statement = try db.cachedStatement(sql: """
                SELECT r.finished_at FROM completion AS c
                JOIN result AS r ON r.key = (c.job_id << 32) + c.first_line + (?2 - c.first_sequence)
                WHERE c.job_id = ?1 AND r.sequence = ?2 AND c.first_line + (?2 - c.first_sequence) <= c.last_line
                  AND c.first_sequence = (SELECT max(first_sequence) FROM completion WHERE job_id = ?1 AND first_sequence <= ?2)
                """)
            var times: [Int64: Date] = [:]
            for sequence in Set(sequences) {
                if let seconds = try Double.fetchOne(statement, arguments: [job.rawValue, sequence]) {
                    times[sequence] = Date(timeIntervalSince1970: seconds)
                }
            }
            return times
        }
    }
}
