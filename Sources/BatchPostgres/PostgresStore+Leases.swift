import BatchStore
import Foundation

extension PostgresStore {
    /// A claim in one transaction: the `FairShare` decision on the
    /// candidates, then, under the chosen job's row lock (waited for, never
    /// skipped: with one job a skip would read as "no work"), its guards
    /// again (`-j`, rate), then a handed-back chunk (`FOR UPDATE SKIP
    /// LOCKED`: claimers never wait on each other's chunks) or a new chunk cut
    /// from the unclaimed lines.
    public func chunkClaim(
        owner: String, now: Date, leaseDuration: TimeInterval, after previous: ChunkLease?, sameJob: Bool,
        excluding: Set<JobID>, chunkSize: (Job, Int64) -> Int
    ) throws -> ChunkLease? {
        let only = sameJob ? previous?.job.id : nil
        return try run { c in
            try c.transaction {
                var candidates = try Self.schedulingCandidates(c, excluding: previous)
                if !excluding.isEmpty { candidates.removeAll { excluding.contains($0.job) } }
                guard let chosen = FairShare.next(among: candidates, now: now), only == nil || chosen == only else { return nil }
                let job = try Self.requireJob(c, chosen, lock: .write)
                // Again, under the lock: another claimer may have taken the last slot.
                let locked = try Self.schedulingCandidates(c, excluding: previous, job: chosen)
                guard let candidate = locked.first, candidate.isEligible(at: now) else { return nil }
                let slotRows = try c.execute(
                    "SELECT slot FROM chunk WHERE job_id = $1 AND state = 'leased' AND slot IS NOT NULL", [.int(chosen.rawValue)])
                let used = Set((0..<slotRows.count).compactMap { slotRows.int($0, 0) })
                var slot: Int64 = 1
                while used.contains(slot) { slot += 1 }
                let expiry = now.timeIntervalSince1970 + leaseDuration
                let released = try c.execute("""
                    SELECT id, first_line, last_line, fence FROM chunk
                    WHERE job_id = $1 AND state = 'released' ORDER BY first_line LIMIT 1 FOR UPDATE SKIP LOCKED
                    """, [.int(chosen.rawValue)])
                let lease: ChunkLease
                if released.count == 1 {
                    let chunkID = released.int(0, 0) ?? 0
                    let fence = (released.int(0, 3) ?? 0) + 1
                    try c.execute("""
                        UPDATE chunk SET state = 'leased', owner = $1, lease_expires_at = to_timestamp($2), fence = $3, slot = $4
                        WHERE id = $5
                        """, [.text(owner), .double(expiry), .int(fence), .int(slot), .int(chunkID)])
                    lease = ChunkLease(
                        chunkID: chunkID, job: job, firstLine: released.int(0, 1) ?? 1, lastLine: released.int(0, 2) ?? 1,
                        fence: fence, owner: owner, slot: Int(slot))
                } else {
                    let firstLine = try c.execute("SELECT next_line FROM job WHERE id = $1", [.int(chosen.rawValue)]).int(0, 0) ?? 1
                    guard firstLine <= job.itemCount else { return nil }
                    let size = Int64(StoreRules.claimSize(of: job, proposed: chunkSize(job, job.itemCount - firstLine + 1)))
                    let lastLine = min(firstLine + size - 1, job.itemCount)
                    let inserted = try c.execute("""
                        INSERT INTO chunk (job_id, first_line, last_line, state, owner, lease_expires_at, fence, slot)
                        VALUES ($1, $2, $3, 'leased', $4, to_timestamp($5), 1, $6) RETURNING id
                        """, [.int(chosen.rawValue), .int(firstLine), .int(lastLine), .text(owner), .double(expiry), .int(slot)])
                    try c.execute("UPDATE job SET next_line = $1 WHERE id = $2", [.int(lastLine + 1), .int(chosen.rawValue)])
                    lease = ChunkLease(
                        chunkID: inserted.int(0, 0) ?? 0, job: job, firstLine: firstLine, lastLine: lastLine, fence: 1,
                        owner: owner, slot: Int(slot))
                }
                if let rate = job.spec.rate {
                    try c.execute("""
                        UPDATE job SET rate_next_at = greatest(coalesce(rate_next_at, to_timestamp($1)), to_timestamp($1))
                            + make_interval(secs => $2) WHERE id = $3
                        """, [.double(now.timeIntervalSince1970), .double(rate.interval(items: lease.lineCount)), .int(chosen.rawValue)])
                }
                return lease
            }
        }
    }

    /// The runnable jobs as `FairShare` sees them (`previous` not counted
    /// as running); with `job`, that one only.
    static func schedulingCandidates(
        _ c: PostgresConnection, excluding previous: ChunkLease? = nil, job: JobID? = nil
    ) throws -> [FairShare.Candidate] {
        let rows = try c.execute("""
            SELECT job.id, job.owner_role, job.priority, job.weight, job.max_running, job.max_running_percent,
                   extract(epoch FROM job.rate_next_at)::float8,
                   (SELECT count(*) FROM chunk AS running
                    WHERE running.job_id = job.id AND running.state = 'leased'
                      AND NOT (running.id IS NOT DISTINCT FROM $1::bigint AND running.fence IS NOT DISTINCT FROM $2::bigint)),
                   (job.next_line <= job.item_count
                    OR EXISTS (SELECT 1 FROM chunk AS back WHERE back.job_id = job.id AND back.state = 'released'))
            FROM job
            WHERE job.state IN ('open', 'sealed') AND ($3::bigint IS NULL OR job.id = $3::bigint)
            """, [.int(previous?.chunkID), .int(previous?.fence), .int(job?.rawValue)])
        var workers: Int64?
        return try (0..<rows.count).map { r in
            let limit = rows.int(r, 4).map { RunningLimit.count(Int($0)) } ?? rows.double(r, 5).map(RunningLimit.percentOfWorkers)
            if case .percentOfWorkers = limit, workers == nil {
                workers = try c.execute("SELECT coalesce(sum(workers), 0) FROM daemon").int(0, 0) ?? 0
            }
            return FairShare.Candidate(
                job: JobID(rows.int(r, 0) ?? 0), owner: rows.string(r, 1) ?? "", priority: Int(rows.int(r, 2) ?? 0),
                weight: rows.double(r, 3) ?? 1, running: Int(rows.int(r, 7) ?? 0), hasWork: rows.bool(r, 8) ?? false,
                limit: limit?.limit(workers: Int(workers ?? 0)),
                rateReadyAt: rows.double(r, 6).map(Date.init(timeIntervalSince1970:)))
        }
    }

    public func jobsSchedulingCandidates() throws -> [FairShare.Candidate] {
        try run { c in try Self.schedulingCandidates(c) }
    }

    public func itemsPending(for lease: ChunkLease, afterLine: Int64, limit: Int) throws -> [WorkItem] {
        // A chunk's first lease covers lines nobody has run (as on SQLite):
        // only a later lease looks into `result`.
        let unseen = lease.fence == 1
            ? "" : "AND NOT EXISTS (SELECT 1 FROM result WHERE result.job_id = item.job_id AND result.line = item.line)"
        return try run { c in
            let rows = try c.execute("""
                SELECT line, data FROM item
                WHERE job_id = $1 AND line > $2 AND line <= $3 \(unseen)
                ORDER BY line LIMIT $4
                """, [.int(lease.job.id.rawValue), .int(max(afterLine, lease.firstLine - 1)), .int(lease.lastLine), .int(limit)])
            return (0..<rows.count).map { WorkItem(line: rows.int($0, 0) ?? 0, data: rows.data($0, 1) ?? Data()) }
        }
    }

    /// Locks the jobs (`FOR NO KEY UPDATE`, in id order: two committers never wait
    /// on each other in a cycle) and reads the chunks with their jobs'
    /// counters as they are under the lock, in one statement; by chunk id.
    /// (A left join: every job row is read, so every one is locked, even
    /// one whose chunks are gone.)
    static func lockJobsReadingLeases(_ c: PostgresConnection, jobs: [Int64], chunks: [Int64]) throws -> [Int64: PostgresChunkRow] {
        let rows = try c.execute("""
            WITH locked AS MATERIALIZED (
                SELECT id, state, item_count, finished_count, failed_count, next_sequence
                FROM job WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE)
            SELECT chunk.id, chunk.job_id, chunk.state, chunk.fence, chunk.owner, locked.state, locked.item_count,
                   locked.finished_count, locked.failed_count, locked.next_sequence
            FROM locked LEFT JOIN chunk ON chunk.job_id = locked.id AND chunk.id = ANY($2::bigint[])
            """, [.text(PostgresArray.integers(jobs)), .text(PostgresArray.integers(chunks))])
        var found: [Int64: PostgresChunkRow] = [:]
        for row in 0..<rows.count {
            guard let id = rows.int(row, 0), let job = rows.int(row, 1) else { continue }
            found[id] = PostgresChunkRow(
                jobID: JobID(job), state: rows.string(row, 2), fence: rows.int(row, 3), owner: rows.string(row, 4),
                jobState: rows.string(row, 5).flatMap(JobState.init(rawValue:)) ?? .cancelled, itemCount: rows.int(row, 6) ?? 0,
                finishedCount: rows.int(row, 7) ?? 0, failedCount: rows.int(row, 8) ?? 0, nextSequence: rows.int(row, 9) ?? 1)
        }
        return found
    }

    /// The lease's `LeaseState`, in one query.
    static func leaseState(_ c: PostgresConnection, _ lease: ChunkLease) throws -> LeaseState? {
        let rows = try c.execute("""
            SELECT chunk.state, chunk.fence, job.state, job.item_count, job.finished_count, job.failed_count,
                   job.next_sequence, chunk.owner
            FROM chunk JOIN job ON job.id = chunk.job_id WHERE chunk.id = $1 AND chunk.job_id = $2
            """, [.int(lease.chunkID), .int(lease.job.id.rawValue)])
        guard rows.count == 1 else { return nil }
        return LeaseState(
            chunkHeld: rows.string(0, 0) == "leased" && rows.int(0, 1) == lease.fence && rows.string(0, 7) == lease.owner,
            jobState: rows.string(0, 2).flatMap(JobState.init(rawValue:)) ?? .cancelled, itemCount: rows.int(0, 3) ?? 0,
            finishedCount: rows.int(0, 4) ?? 0, failedCount: rows.int(0, 5) ?? 0, nextSequence: rows.int(0, 6) ?? 1)
    }

    public func leaseStatus(_ lease: ChunkLease) throws -> LeaseStatus {
        try run { c in
            guard let state = try Self.leaseState(c, lease) else { return .jobEnded }
            return StoreRules.leaseStatus(of: lease, chunkHeld: state.chunkHeld, jobState: state.jobState)
        }
    }

    public func chunksLeasedExist(job: JobID) throws -> Bool {
        try run { c in
            try c.execute("SELECT EXISTS (SELECT 1 FROM chunk WHERE job_id = $1 AND state = 'leased')", [.int(job.rawValue)]).bool(0, 0) ?? false
        }
    }

    public func chunksLeasedList() throws -> [LeasedChunk] {
        try run { c in
            let rows = try c.execute("SELECT owner, job_id, first_line, last_line FROM chunk WHERE state = 'leased' ORDER BY job_id, first_line")
            return (0..<rows.count).map {
                LeasedChunk(owner: rows.string($0, 0) ?? "", job: JobID(rows.int($0, 1) ?? 0), firstLine: rows.int($0, 2) ?? 0,
                            lastLine: rows.int($0, 3) ?? 0)
            }
        }
    }

    public func chunksHeld(owner: String) throws -> [ChunkLease] {
        try run { c in
            let rows = try c.execute(
                "SELECT id, job_id, first_line, last_line, fence, slot FROM chunk WHERE owner = $1 AND state = 'leased'", [.text(owner)])
            return try (0..<rows.count).map { r in
                ChunkLease(
                    chunkID: rows.int(r, 0) ?? 0, job: try Self.requireJob(c, JobID(rows.int(r, 1) ?? 0)),
                    firstLine: rows.int(r, 2) ?? 0, lastLine: rows.int(r, 3) ?? 0, fence: rows.int(r, 4) ?? 0, owner: owner,
                    slot: Int(rows.int(r, 5) ?? 1))
            }
        }
    }

    public func chunkReleaseIfLeaseHeld(_ lease: ChunkLease) throws {
        try run { c in
            try c.execute("""
                UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL
                WHERE id = $1 AND job_id = $2 AND fence = $3 AND owner = $4 AND state = 'leased'
                """, [.int(lease.chunkID), .int(lease.job.id.rawValue), .int(lease.fence), .text(lease.owner)])
        }
    }

    public func chunksRenewLeases(owner: String, now: Date, leaseDuration: TimeInterval) throws -> Int {
        try run { c in
            try c.execute(
                "UPDATE chunk SET lease_expires_at = to_timestamp($1) WHERE owner = $2 AND state = 'leased'",
                [.double(now.timeIntervalSince1970 + leaseDuration), .text(owner)]).changed
        }
    }

    public func chunksReleaseOwned(owner: String) throws -> Int {
        try run { c in
            try c.execute(
                "UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL WHERE owner = $1 AND state = 'leased'",
                [.text(owner)]).changed
        }
    }

    public func chunksReleaseExpired(now: Date) throws -> Int {
        try run { c in
            try c.execute("""
                UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL
                WHERE state = 'leased' AND lease_expires_at < to_timestamp($1)
                """, [.double(now.timeIntervalSince1970)]).changed
        }
    }
}
