import BatchStore
import Foundation

extension PostgresStore {
    /// A group commit: the jobs concerned are locked first, in id order (two
    /// committers never wait on each other in a cycle), so each job's
    /// completion sequence is handed out under its lock: gap-free, and
    /// committed in order. Each batch is recorded only under its chunk's
    /// current lease (the fence).
    public func resultsRecordIfLeasesHeld(_ batches: [ResultBatch], now: Date) throws -> [RecordOutcome] {
        guard !batches.isEmpty else { return [] }
        return try run { c in
            try c.transaction {
                let ids = Set(batches.map { $0.lease.job.id.rawValue }).sorted()
                // The jobs locked and every lease's state read in one round trip.
                let states = try Self.lockJobsReadingLeases(c, jobs: ids, chunks: Set(batches.map(\.lease.chunkID)).sorted())
                var ledger = GroupCommitLedger()
                var outcomes: [RecordOutcome] = []
                // A job's results of the whole group go in one statement (one
                // round trip, not one per batch: per item, a batch is one
                // result): its sequences are handed out in order, so the
                // batches it accepts follow each other. Chunks completed
                // are marked done together too.
                var pending: [JobID: (first: Int64, results: [ItemRecord])] = [:]
                var completed: [ChunkLease] = []
                for batch in batches {
                    let id = batch.lease.job.id
                    outcomes.append(try ledger.record(
                        batch,
                        leaseState: { lease in states[lease.chunkID].flatMap { $0.jobID == lease.job.id ? $0.state(for: lease) : nil } },
                        insert: { results, firstSequence in
                            if let run = pending[id], run.first + Int64(run.results.count) == firstSequence {
                                pending[id]!.results += results
                            } else {
                                if let run = pending[id] { try Self.insertResults(c, job: id, run.results, firstSequence: run.first) }
                                pending[id] = (firstSequence, results)
                            }
                        },
                        completeChunk: { completed.append($0) }))
                }
                for (id, run) in pending.sorted(by: { $0.key < $1.key }) {
                    try Self.insertResults(c, job: id, run.results, firstSequence: run.first)
                }
                if !completed.isEmpty {
                    try c.execute("""
                        UPDATE chunk SET state = 'done', owner = NULL, lease_expires_at = NULL
                        FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS done(id, job_id, fence)
                        WHERE chunk.id = done.id AND chunk.job_id = done.job_id AND chunk.fence = done.fence
                        """,
                        [.text(PostgresArray.integers(completed.map(\.chunkID))),
                         .text(PostgresArray.integers(completed.map(\.job.id.rawValue))),
                         .text(PostgresArray.integers(completed.map(\.fence)))])
                }
                for (id, job) in ledger.jobs {
                    try c.execute("""
                        UPDATE job SET finished_count = $1, failed_count = $2, next_sequence = $3, state = $4,
                            finished_at = CASE WHEN $5 THEN to_timestamp($6) ELSE finished_at END,
                            halt_reason = coalesce($7, halt_reason)
                        WHERE id = $8
                        """,
                        [.int(job.finished), .int(job.failed), .int(job.nextSequence), .text(job.state.rawValue),
                         .text(job.state != job.initialState ? "t" : "f"), .double(now.timeIntervalSince1970),
                         .string(job.haltReason), .int(id.rawValue)])
                    if job.haltedNow { try Self.releaseChunks(c, job: id) }
                }
                return outcomes
            }
        }
    }

    /// A batch's results in one statement, from arrays (`unnest`): one
    /// round trip per batch, not one per result.
    static func insertResults(_ c: PostgresConnection, job: JobID, _ results: [ItemRecord], firstSequence: Int64) throws {
        guard !results.isEmpty else { return }
        let outcomes = results.map(\.outcome)
        try c.execute("""
            INSERT INTO result (job_id, line, sequence, status, exit_status, signal, output, error_output, reason,
                                attempts, started_at, finished_at, group_first, group_last)
            SELECT $1, line, $2 + ordinality - 1, status, exit_status, signal, output, error_output, reason, attempts,
                   to_timestamp(started_at), to_timestamp(finished_at), group_first, group_last
            FROM unnest($3::bigint[], $4::text[], $5::integer[], $6::integer[], $7::bytea[], $8::bytea[], $9::text[],
                        $10::integer[], $11::float8[], $12::float8[], $13::bigint[], $14::bigint[])
                 WITH ORDINALITY AS r(line, status, exit_status, signal, output, error_output, reason, attempts,
                                      started_at, finished_at, group_first, group_last, ordinality)
            """,
            [.int(job.rawValue), .int(firstSequence),
             .text(PostgresArray.integers(results.map { $0.line })),
             .text(PostgresArray.texts(outcomes.map { $0.status.rawValue })),
             .text(PostgresArray.integers(outcomes.map { $0.exitStatus.map(Int64.init) })),
             .text(PostgresArray.integers(outcomes.map { $0.signal.map(Int64.init) })),
             .text(PostgresArray.bytes(outcomes.map(\.output))),
             .text(PostgresArray.bytes(outcomes.map { $0.status == .failed ? $0.errorOutput : Data() })),
             .text(PostgresArray.texts(outcomes.map(\.reason))),
             .text(PostgresArray.integers(results.map { Int64($0.attempts) })),
             .text(PostgresArray.doubles(outcomes.map { $0.startedAt.timeIntervalSince1970 })),
             .text(PostgresArray.doubles(outcomes.map { $0.finishedAt.timeIntervalSince1970 })),
             .text(PostgresArray.integers(outcomes.map { $0.group?.lowerBound })),
             .text(PostgresArray.integers(outcomes.map { $0.group?.upperBound }))])
    }

    static let resultColumns = """
        line, sequence, status, exit_status, signal, output, error_output, reason, attempts,
        extract(epoch FROM started_at)::float8, extract(epoch FROM finished_at)::float8, group_first, group_last
        """

    static func results(_ rows: PostgresResult) -> [ItemResult] {
        (0..<rows.count).map { r in
            let outcome = ItemOutcome(
                status: rows.string(r, 2).flatMap(ItemOutcome.Status.init(rawValue:)) ?? .failed,
                exitStatus: rows.int(r, 3).map { Int32(truncatingIfNeeded: $0) },
                signal: rows.int(r, 4).map { Int32(truncatingIfNeeded: $0) },
                output: rows.data(r, 5) ?? Data(),
                errorOutput: rows.data(r, 6) ?? Data(),
                reason: rows.string(r, 7),
                startedAt: Date(timeIntervalSince1970: rows.double(r, 9) ?? 0),
                finishedAt: Date(timeIntervalSince1970: rows.double(r, 10) ?? 0),
                group: rows.int(r, 11).map { $0...max($0, rows.int(r, 12) ?? $0) })
            return ItemResult(
                line: rows.int(r, 0) ?? 0, sequence: rows.int(r, 1) ?? 0, outcome: outcome, attempts: Int(rows.int(r, 8) ?? 1))
        }
    }

    public func resultsByLine(job: JobID, afterLine: Int64, limit: Int) throws -> [ItemResult] {
        try run { c in
            Self.results(try c.execute(
                "SELECT \(Self.resultColumns) FROM result WHERE job_id = $1 AND line > $2 ORDER BY line LIMIT $3",
                [.int(job.rawValue), .int(afterLine), .int(limit)]))
        }
    }

    public func resultsBySequence(job: JobID, afterSequence: Int64, limit: Int) throws -> [ItemResult] {
        try run { c in
            Self.results(try c.execute(
                "SELECT \(Self.resultColumns) FROM result WHERE job_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3",
                [.int(job.rawValue), .int(afterSequence), .int(limit)]))
        }
    }

    public func resultsFailed(job: JobID, limit: Int) throws -> [ItemResult] {
        try run { c in
            Self.results(try c.execute(
                "SELECT \(Self.resultColumns) FROM result WHERE job_id = $1 AND status = 'failed' ORDER BY line LIMIT $2",
                [.int(job.rawValue), .int(limit)]))
        }
    }

    public func resultsCount(job: JobID, finishedSince since: Date) throws -> Int {
        try run { c in
            Int(try c.execute("""
                SELECT count(*) FROM (SELECT finished_at FROM result WHERE job_id = $1 ORDER BY sequence DESC LIMIT 100000) AS recent
                WHERE finished_at >= to_timestamp($2)
                """, [.int(job.rawValue), .double(since.timeIntervalSince1970)]).int(0, 0) ?? 0)
        }
    }

    public func itemCounts(job: JobID) throws -> (claimed: Int64, attempts: Int64, retried: Int64) {
        try run { c in
            let claimed = try c.execute("""
                SELECT count(*) FROM chunk JOIN item ON item.job_id = chunk.job_id
                    AND item.line BETWEEN chunk.first_line AND chunk.last_line
                WHERE chunk.job_id = $1 AND chunk.state = 'leased'
                  AND NOT EXISTS (SELECT 1 FROM result WHERE result.job_id = item.job_id AND result.line = item.line)
                """, [.int(job.rawValue)]).int(0, 0) ?? 0
            let row = try c.execute(
                "SELECT coalesce(sum(attempts), 0), count(*) FILTER (WHERE attempts > 1) FROM result WHERE job_id = $1",
                [.int(job.rawValue)])
            return (claimed, row.int(0, 0) ?? 0, row.int(0, 1) ?? 0)
        }
    }

    public func resultsMedianDuration(job: JobID) throws -> Double? {
        let durations = try resultsRecentDurations(job: job, limit: 1001).sorted()
        return durations.isEmpty ? nil : durations[durations.count / 2]
    }

    public func resultsRecentDurations(job: JobID, limit: Int) throws -> [Double] {
        try run { c in
            let rows = try c.execute("""
                SELECT extract(epoch FROM finished_at - started_at)::float8 FROM result
                WHERE job_id = $1 AND status = 'succeeded' ORDER BY sequence DESC LIMIT $2
                """, [.int(job.rawValue), .int(limit)])
            return (0..<rows.count).compactMap { rows.double($0, 0) }
        }
    }

    public func resultsFinishTimes(job: JobID, sequences: [Int64]) throws -> [Int64: Date] {
        guard !sequences.isEmpty else { return [:] }
        return try run { c in
            let rows = try c.execute("""
                SELECT sequence, extract(epoch FROM finished_at)::float8 FROM result
                WHERE job_id = $1 AND sequence = ANY($2::bigint[])
                """, [.int(job.rawValue), .text(PostgresArray.integers(sequences))])
            var times: [Int64: Date] = [:]
            for row in 0..<rows.count {
                if let sequence = rows.int(row, 0), let time = rows.double(row, 1) { times[sequence] = Date(timeIntervalSince1970: time) }
            }
            return times
        }
    }
}
