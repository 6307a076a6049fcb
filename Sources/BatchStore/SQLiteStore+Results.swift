import Foundation
import GRDB

extension SQLiteStore {
    static let resultColumns = """
        line, sequence, status, exit_status, signal, output, error_output, reason, attempts, started_at, finished_at
        """

    static func result(from row: Row) -> ItemResult {
        let outcome = ItemOutcome(
            status: ItemOutcome.Status(rawValue: row["status"]) ?? .failed,
            exitStatus: row["exit_status"],
            signal: row["signal"],
            output: row["output"],
            errorOutput: row["error_output"],
            reason: row["reason"],
            startedAt: Date(timeIntervalSince1970: row["started_at"]),
            finishedAt: Date(timeIntervalSince1970: row["finished_at"]))
        return ItemResult(line: row["line"], sequence: row["sequence"], outcome: outcome, attempts: row["attempts"])
    }

    public func resultsByLine(job: JobID, afterLine: Int64, limit: Int) throws -> [ItemResult] {
        try read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT \(Self.resultColumns) FROM result WHERE job_id = ? AND line > ? ORDER BY line LIMIT ?
                    """),
                arguments: [job.rawValue, afterLine, limit]
            ).map(Self.result(from:))
        }
    }

    public func resultsBySequence(job: JobID, afterSequence: Int64, limit: Int) throws -> [ItemResult] {
        try read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT \(Self.resultColumns) FROM result WHERE job_id = ? AND sequence > ? ORDER BY sequence LIMIT ?
                    """),
                arguments: [job.rawValue, afterSequence, limit]
            ).map(Self.result(from:))
        }
    }

    public func resultsCount(job: JobID, finishedSince since: Date) throws -> Int {
        // Recent results have the highest sequence numbers: walk back from the newest.
        try read { db in
            try Int.fetchOne(
                db, sql: """
                    SELECT count(*) FROM (SELECT finished_at FROM result WHERE job_id = ? ORDER BY sequence DESC LIMIT 100000)
                    WHERE finished_at >= ?
                    """,
                arguments: [job.rawValue, since.timeIntervalSince1970]) ?? 0
        }
    }

    public func itemCounts(job: JobID) throws -> (claimed: Int64, attempts: Int64, retried: Int64) {
        try read { db in
            let claimed = try Int64.fetchOne(
                db, sql: """
                    SELECT count(*) FROM chunk JOIN item ON item.job_id = chunk.job_id
                        AND item.line BETWEEN chunk.first_line AND chunk.last_line
                    WHERE chunk.job_id = ? AND chunk.state = 'leased'
                      AND NOT EXISTS (SELECT 1 FROM result WHERE result.job_id = item.job_id AND result.line = item.line)
                    """,
                arguments: [job.rawValue]) ?? 0
            let row = try Row.fetchOne(
                db, sql: "SELECT coalesce(sum(attempts), 0) AS attempts, count(*) FILTER (WHERE attempts > 1) AS retried FROM result WHERE job_id = ?",
                arguments: [job.rawValue])
            return (claimed, row?["attempts"] ?? 0, row?["retried"] ?? 0)
        }
    }

    public func resultsFailed(job: JobID, limit: Int) throws -> [ItemResult] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.resultColumns) FROM result WHERE job_id = ? AND status = 'failed' ORDER BY line LIMIT ?",
                arguments: [job.rawValue, limit]
            ).map(Self.result(from:))
        }
    }

    public func resultsMedianDuration(job: JobID) throws -> Double? {
        try read { db in
            let durations = try Double.fetchAll(
                db.cachedStatement(sql: """
                    SELECT finished_at - started_at FROM result
                    WHERE job_id = ? AND status = 'succeeded' ORDER BY sequence DESC LIMIT 1001
                    """),
                arguments: [job.rawValue]
            ).sorted()
            return durations.isEmpty ? nil : durations[durations.count / 2]
        }
    }
}
