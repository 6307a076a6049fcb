import Foundation
import GRDB
import GRDBSQLite

extension SQLiteStore {
    /// A job as a group commit sees it: read once, then kept up to date in
    /// memory as batches are recorded, and written back once at the end.
    private struct JobTally {
        var state: JobState
        let initialState: JobState
        let itemCount: Int64
        var finished: Int64
        var failed: Int64
        var nextSequence: Int64
        var haltReason: String?
        /// The job halted with `now`: no chunk of it may stay held.
        var haltedNow = false

        init(_ current: LeaseState) {
            state = current.jobState
            initialState = current.jobState
            itemCount = current.itemCount
            finished = current.finishedCount
            failed = current.failedCount
            nextSequence = current.nextSequence
        }
    }

    private struct LeaseKey: Hashable {
        var job: JobID
        var chunkID: Int64
        var fence: Int64
    }

    /// Each distinct lease and job is read once per transaction, however many
    /// batches it has (per item, every result is a batch of its own), and
    /// each job written once: reading and updating them per batch was most of
    /// a group commit's cost (measured with perf).
    public func resultsRecordIfLeasesHeld(_ batches: [ResultBatch], now: Date) throws -> [RecordOutcome] {
        guard !batches.isEmpty else { return [] }
        return try write { db in
            var jobs: [JobID: JobTally] = [:]
            var held: [LeaseKey: Bool] = [:]
            var outcomes: [RecordOutcome] = []
            outcomes.reserveCapacity(batches.count)
            let insert = try db.cachedStatement(sql: """
                INSERT INTO result (job_id, line, sequence, status, exit_status, signal, output, error_output,
                                    reason, attempts, started_at, finished_at, group_first, group_last)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for batch in batches {
                let lease = batch.lease
                let key = LeaseKey(job: lease.job.id, chunkID: lease.chunkID, fence: lease.fence)
                if held[key] == nil || jobs[lease.job.id] == nil {
                    guard let current = try Self.leaseState(db, lease) else {
                        outcomes.append(.jobEnded)
                        continue
                    }
                    held[key] = current.chunkHeld
                    if jobs[lease.job.id] == nil { jobs[lease.job.id] = JobTally(current) }
                }
                guard var job = jobs[lease.job.id], let chunkHeld = held[key] else { continue }
                switch StoreRules.leaseStatus(of: lease, chunkHeld: chunkHeld, jobState: job.state) {
                case .lost:
                    outcomes.append(.leaseLost)
                    continue
                case .jobEnded:
                    outcomes.append(.jobEnded)
                    continue
                case .held, .draining:
                    break
                }
                var failed: Int64 = 0
                for result in batch.results {
                    precondition(result.line >= lease.firstLine && result.line <= lease.lastLine, "result outside its lease")
                    if result.outcome.status == .failed { failed += 1 }
                    try Self.insertResult(
                        insert, db, job: lease.job.id, line: result.line, sequence: job.nextSequence,
                        outcome: result.outcome, attempts: result.attempts)
                    job.nextSequence += 1
                }
                job.finished += Int64(batch.results.count)
                job.failed += failed
                let progress = StoreRules.progress(
                    state: job.state, itemCount: job.itemCount, finished: job.finished, failed: job.failed,
                    failedNow: failed, halt: lease.job.spec.halt)
                job.state = progress.state
                if let reason = progress.haltReason {
                    job.haltReason = reason
                    job.haltedNow = progress.haltsNow
                }
                if batch.completesChunk {
                    try db.cachedStatement(sql: """
                        UPDATE chunk SET state = 'done', owner = NULL, lease_expires_at = NULL
                        WHERE id = ? AND job_id = ? AND fence = ?
                        """).execute(arguments: [lease.chunkID, lease.job.id.rawValue, lease.fence])
                    held[key] = false
                }
                jobs[lease.job.id] = job
                outcomes.append(job.state == .failed ? .recordedJobEnded : .recorded)
            }
            for (id, job) in jobs {
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

    /// Binds and runs the result insert with SQLite's C API: this runs once
    /// per item, and going through GRDB's boxed arguments cost more than the
    /// insert itself (measured with perf in stream mode).
    static func insertResult(
        _ statement: Statement, _ db: Database, job: JobID, line: Int64, sequence: Int64, outcome: ItemOutcome,
        attempts: Int
    ) throws {
        let raw = statement.sqliteStatement
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        sqlite3_bind_int64(raw, 1, job.rawValue)
        sqlite3_bind_int64(raw, 2, line)
        sqlite3_bind_int64(raw, 3, sequence)
        sqlite3_bind_text(raw, 4, outcome.status.rawValue, -1, transient)
        if let exit = outcome.exitStatus { sqlite3_bind_int64(raw, 5, Int64(exit)) }
        if let signal = outcome.signal { sqlite3_bind_int64(raw, 6, Int64(signal)) }
        if let reason = outcome.reason { sqlite3_bind_text(raw, 9, reason, -1, transient) }
        sqlite3_bind_int64(raw, 10, Int64(attempts))
        sqlite3_bind_double(raw, 11, outcome.startedAt.timeIntervalSince1970)
        sqlite3_bind_double(raw, 12, outcome.finishedAt.timeIntervalSince1970)
        if let group = outcome.group {
            sqlite3_bind_int64(raw, 13, group.lowerBound)
            sqlite3_bind_int64(raw, 14, group.upperBound)
        }
        let errorOutput = outcome.status == .failed ? outcome.errorOutput : Data()
        // The outputs are bound without a copy (SQLITE_STATIC): their bytes stay
        // valid until the statement is reset, inside these closures. A copy of
        // each output (megabytes, at times) was a third of the daemon's peak.
        let code = outcome.output.withUnsafeBytes { output in
            errorOutput.withUnsafeBytes { errors in
                sqlite3_bind_blob(raw, 7, output.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(output.count), nil)
                sqlite3_bind_blob(raw, 8, errors.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(errors.count), nil)
                let code = sqlite3_step(raw)
                sqlite3_reset(raw)
                sqlite3_clear_bindings(raw)
                return code
            }
        }
        guard code == SQLITE_DONE else {
            throw Self.stepFailure(code, db)
        }
    }
}
