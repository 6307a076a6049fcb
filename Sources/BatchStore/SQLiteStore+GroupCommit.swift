import Foundation
import GRDB
import GRDBSQLite

extension SQLiteStore {
    /// Each distinct lease and job is read once per transaction, however many
    /// batches it has (per item, every result is a batch of its own), and
    /// each job written once (`GroupCommitLedger`): reading and updating them per batch was most of
    /// a group commit's cost (measured with perf). The completion order is
    /// written once per run of consecutive lines (`CompletionRuns`), not per
    /// result.
    public func resultsRecordIfLeasesHeld(_ batches: [ResultBatch], now: Date) throws -> [RecordOutcome] {
        guard !batches.isEmpty else { return [] }
        return try write { db in
            var ledger = GroupCommitLedger()
            var runs = CompletionRuns()
            var outcomes: [RecordOutcome] = []
            outcomes.reserveCapacity(batches.count)
            let inserts = try ResultInserts(db)
            for batch in batches {
                let job = batch.lease.job.id
                outcomes.append(try ledger.record(
                    batch,
                    leaseState: { try Self.leaseState(db, $0) },
                    insert: { results, firstSequence in
                        for (offset, result) in results.enumerated() {
                            let sequence = firstSequence + Int64(offset)
                            try Self.insertResult(
                                inserts, db, job: job, line: result.line, sequence: sequence,
                                outcome: result.outcome, attempts: result.attempts)
                            runs.add(job: job, sequence: sequence, line: result.line)
                        }
                    },
                    completeChunk: { lease in
                        try db.cachedStatement(sql: """
                            UPDATE chunk SET state = 'done', owner = NULL, lease_expires_at = NULL
                            WHERE id = ? AND job_id = ? AND fence = ?
                            """).execute(arguments: [lease.chunkID, lease.job.id.rawValue, lease.fence])
                    }))
            }
            let completion = try db.cachedStatement(sql: """
                INSERT INTO completion (job_id, first_sequence, first_line, last_line) VALUES (?, ?, ?, ?)
                """).sqliteStatement
            for run in runs.finish() {
                sqlite3_reset(completion)
                sqlite3_bind_int64(completion, 1, run.job.rawValue)
                sqlite3_bind_int64(completion, 2, run.firstSequence)
                sqlite3_bind_int64(completion, 3, run.firstLine)
                sqlite3_bind_int64(completion, 4, run.lastLine)
                let code = sqlite3_step(completion)
                sqlite3_reset(completion)
                guard code == SQLITE_DONE else { throw Self.stepFailure(code, db) }
            }
            for (id, job) in ledger.jobs {
                try db.cachedStatement(sql: """
                    UPDATE job SET
                        finished_count = ?, failed_count = ?, next_sequence = ?, state = ?,
                        finished_at = CASE WHEN ? THEN ? ELSE finished_at END,
                        halt_reason = coalesce(?, halt_reason)
                    WHERE id = ?
                    """).execute(arguments: [
                        job.finished, job.failed, job.nextSequence, job.state.rawValue,
                        job.state != job.initialState, now.timeIntervalSince1970, job.haltReason, id.rawValue,
                    ])
                if job.haltedNow {
                    // A job that ended holds no chunk: its holders find it ended
                    // and stop, and `status` counts nothing as claimed.
                    try Self.releaseChunks(db, job: id)
                }
            }
            return outcomes
        }
    }

    /// The error for a statement stepped with SQLite's C API (the hot paths
    /// that bypass GRDB's arguments and rows): what GRDB would have thrown.
    static func stepFailure(_ code: Int32, _ db: Database) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
    }

    /// The result inserts of one commit (schema v12): the common one writes
    /// the seven columns every result has and leaves the rest to their
    /// defaults; the full one is for a result with a signal, a reason,
    /// stderr kept, a retry or a group.
    struct ResultInserts {
        let common: Statement
        let full: Statement

        init(_ db: Database) throws {
            common = try db.cachedStatement(sql: """
                INSERT INTO result (key, sequence, failed, exit_status, output, started_at, finished_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """)
            full = try db.cachedStatement(sql: """
                INSERT INTO result (key, sequence, failed, exit_status, output, started_at, finished_at,
                                    attempts, signal, error_output, reason, group_first, group_last)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                """)
        }
    }

    /// Binds and runs a result insert with SQLite's C API: this runs once
    /// per item, and going through GRDB's boxed arguments cost more than the
    /// insert itself (measured with perf in stream mode).
    static func insertResult(
        _ inserts: ResultInserts, _ db: Database, job: JobID, line: Int64, sequence: Int64, outcome: ItemOutcome,
        attempts: Int
    ) throws {
        let errorOutput = outcome.status == .failed ? outcome.errorOutput : Data()
        let common = outcome.signal == nil && outcome.reason == nil && outcome.group == nil && attempts == 1
            && errorOutput.isEmpty
        let raw = (common ? inserts.common : inserts.full).sqliteStatement
        sqlite3_reset(raw)
        // Every parameter is bound on every call, a NULL where a value is
        // missing, instead of clearing all of them first (`clear_bindings`
        // twice per result was 1.5% of the daemon's samples in stream mode).
        sqlite3_bind_int64(raw, 1, ItemKey.of(job: job.rawValue, line: line))
        sqlite3_bind_int64(raw, 2, sequence)
        sqlite3_bind_int64(raw, 3, outcome.status == .failed ? 1 : 0)
        if let exit = outcome.exitStatus { sqlite3_bind_int64(raw, 4, Int64(exit)) } else { sqlite3_bind_null(raw, 4) }
        sqlite3_bind_double(raw, 6, outcome.startedAt.timeIntervalSince1970)
        sqlite3_bind_double(raw, 7, outcome.finishedAt.timeIntervalSince1970)
        if !common {
            let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
            sqlite3_bind_int64(raw, 8, Int64(attempts))
            if let signal = outcome.signal { sqlite3_bind_int64(raw, 9, Int64(signal)) } else { sqlite3_bind_null(raw, 9) }
            if let reason = outcome.reason { sqlite3_bind_text(raw, 11, reason, -1, transient) } else { sqlite3_bind_null(raw, 11) }
            if let group = outcome.group {
                sqlite3_bind_int64(raw, 12, group.lowerBound)
                sqlite3_bind_int64(raw, 13, group.upperBound)
            } else {
                sqlite3_bind_null(raw, 12)
                sqlite3_bind_null(raw, 13)
            }
        }
        // The outputs are bound without a copy (SQLITE_STATIC): their bytes stay
        // valid until the statement is reset, inside these closures. A copy of
        // each output (megabytes, at times) was a third of the daemon's peak.
        let code = outcome.output.withUnsafeBytes { output in
            errorOutput.withUnsafeBytes { errors in
                sqlite3_bind_blob(raw, 5, output.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(output.count), nil)
                if !common {
                    sqlite3_bind_blob(raw, 10, errors.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(errors.count), nil)
                }
                let code = sqlite3_step(raw)
                sqlite3_reset(raw)
                // The outputs' pointers must not outlive these closures.
                sqlite3_bind_null(raw, 5)
                if !common { sqlite3_bind_null(raw, 10) }
                return code
            }
        }
        guard code == SQLITE_DONE else {
            throw Self.stepFailure(code, db)
        }
    }
}
