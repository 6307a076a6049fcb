import Foundation
import GRDB
import GRDBSQLite

extension SQLiteStore {
    public func chunkClaim(
        owner: String, now: Date, leaseDuration: TimeInterval, after previous: ChunkLease?, sameJob: Bool,
        excluding: Set<JobID>, chunkSize: (Job, Int64) -> Int
    ) throws -> ChunkLease? {
        let only = sameJob ? previous?.job.id.rawValue : nil
        // Only jobs of this process's uid: a daemon never runs another user's
        // commands as itself (jobs stored before uids were recorded belong to
        // the file's owner).
        let uid = Int64(getuid())
        let fileOwner = Int64(self.fileOwner)
        let moment = now.timeIntervalSince1970
        // The same decision twice: first in a read, which takes no write lock
        // (idle workers poll), then again on the counts inside the write
        // transaction, where it holds. A stream slot continuing its job is
        // not idle: it goes straight to the write.
        if only == nil {
            guard try read({ db in try Self.owedJob(db, uid: uid, fileOwner: fileOwner, after: previous, only: nil, excluding: excluding, now: now) }) != nil
            else { return nil }
        }
        let expiry = moment + leaseDuration
        return try write { db in
            guard let chosen = try Self.owedJob(db, uid: uid, fileOwner: fileOwner, after: previous, only: only, excluding: excluding, now: now) else {
                return nil
            }
            let job = try Self.requireJob(db, chosen)
            let slot = try Self.freeSlot(db, job: chosen)
            if let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT id, first_line, last_line, fence FROM chunk
                WHERE job_id = ? AND state = 'released' ORDER BY first_line LIMIT 1
                """), arguments: [chosen.rawValue]) {
                let chunkID: Int64 = row["id"]
                let fence: Int64 = row["fence"] + 1
                try db.cachedStatement(sql: """
                    UPDATE chunk SET state = 'leased', owner = ?, lease_expires_at = ?, fence = ?, slot = ? WHERE id = ?
                    """).execute(arguments: [owner, expiry, fence, slot, chunkID])
                let lease = ChunkLease(
                    chunkID: chunkID, job: job, firstLine: row["first_line"], lastLine: row["last_line"], fence: fence,
                    owner: owner, slot: slot)
                try Self.consumeRate(db, lease, now: now)
                return lease
            }
            let firstLine: Int64 = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT next_line FROM job WHERE id = ?"), arguments: [chosen.rawValue]) ?? 1
            guard firstLine <= job.itemCount else { return nil }
            let size = Int64(StoreRules.claimSize(of: job, proposed: chunkSize(job, job.itemCount - firstLine + 1)))
            let lastLine = min(firstLine + size - 1, job.itemCount)
            try db.cachedStatement(sql: """
                INSERT INTO chunk (job_id, first_line, last_line, state, owner, lease_expires_at, fence, slot)
                VALUES (?, ?, ?, 'leased', ?, ?, 1, ?)
                """).execute(arguments: [job.id.rawValue, firstLine, lastLine, owner, expiry, slot])
            let chunkID = db.lastInsertedRowID
            try db.cachedStatement(sql: "UPDATE job SET next_line = ? WHERE id = ?")
                .execute(arguments: [lastLine + 1, job.id.rawValue])
            let lease = ChunkLease(
                chunkID: chunkID, job: job, firstLine: firstLine, lastLine: lastLine, fence: 1, owner: owner, slot: slot)
            try Self.consumeRate(db, lease, now: now)
            return lease
        }
    }

    /// Moves a rate-limited job's next allowed start on by the claimed lines' share.
    static func consumeRate(_ db: Database, _ lease: ChunkLease, now: Date) throws {
        guard let rate = lease.job.spec.rate else { return }
        try db.cachedStatement(sql: """
            UPDATE job SET rate_next_at = max(coalesce(rate_next_at, ?1), ?1) + ?2 WHERE id = ?3
            """).execute(arguments: [now.timeIntervalSince1970, rate.interval(items: lease.lineCount), lease.job.id.rawValue])
    }

    /// The runnable jobs of `uid` as `FairShare` sees them.
    static func schedulingCandidates(_ db: Database, uid: Int64?, fileOwner: Int64, excluding previous: ChunkLease? = nil) throws -> [FairShare.Candidate] {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT job.id, coalesce(job.owner_uid, ?2) AS owner, job.priority, job.weight, job.max_running,
                   job.max_running_percent, job.rate_next_at,
                   (SELECT count(*) FROM chunk AS running
                    WHERE running.job_id = job.id AND running.state = 'leased'
                      AND NOT (running.id IS ?3 AND running.fence IS ?4)) AS running,
                   (job.next_line <= job.item_count
                    OR EXISTS (SELECT 1 FROM chunk AS back WHERE back.job_id = job.id AND back.state = 'released')) AS has_work
            FROM job
            WHERE job.state IN ('open', 'sealed') AND (?1 IS NULL OR coalesce(job.owner_uid, ?2) = ?1)
            """), arguments: [uid, fileOwner, previous?.chunkID, previous?.fence])
        // The registered workers, read only when a limit is a share of them.
        var workers: Int?
        return try rows.map { row in
            let limit = (row["max_running"] as Int?).map(RunningLimit.count)
                ?? (row["max_running_percent"] as Double?).map(RunningLimit.percentOfWorkers)
            if case .percentOfWorkers = limit, workers == nil {
                workers = try Int.fetchOne(db.cachedStatement(sql: "SELECT coalesce(sum(workers), 0) FROM daemon")) ?? 0
            }
            return FairShare.Candidate(
                job: JobID(row["id"]), owner: String(row["owner"] as Int64), priority: row["priority"], weight: row["weight"],
                running: row["running"], hasWork: row["has_work"], limit: limit?.limit(workers: workers ?? 0),
                rateReadyAt: (row["rate_next_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
        }
    }

    public func jobsSchedulingCandidates() throws -> [FairShare.Candidate] {
        let fileOwner = Int64(self.fileOwner)
        return try read { db in try Self.schedulingCandidates(db, uid: nil, fileOwner: fileOwner) }
    }

    /// The job owed the claiming worker (`FairShare`), `previous` (its
    /// just-finished lease) not counted as running; with `only`, that job or
    /// none (a stream slot continues its job only while it is still owed).
    static func owedJob(
        _ db: Database, uid: Int64, fileOwner: Int64, after previous: ChunkLease?, only: Int64?, excluding: Set<JobID>,
        now: Date
    ) throws -> JobID? {
        var candidates = try schedulingCandidates(db, uid: uid, fileOwner: fileOwner, excluding: previous)
        if !excluding.isEmpty { candidates.removeAll { excluding.contains($0.job) } }
        guard let chosen = FairShare.next(among: candidates, now: now), only == nil || chosen.rawValue == only else {
            return nil
        }
        return chosen
    }

    /// The smallest slot number (from 1) that none of the job's leased chunks
    /// has: GNU parallel's `{%}`, which stays within 1…N under `-j N`.
    static func freeSlot(_ db: Database, job: JobID) throws -> Int {
        let used = Set(try Int.fetchAll(
            db.cachedStatement(sql: "SELECT slot FROM chunk WHERE job_id = ? AND state = 'leased' AND slot IS NOT NULL"),
            arguments: [job.rawValue]))
        var slot = 1
        while used.contains(slot) { slot += 1 }
        return slot
    }

    public func itemsPending(for lease: ChunkLease, afterLine: Int64, limit: Int) throws -> [WorkItem] {
        // A chunk's first lease (fence 1) covers lines nobody has run: chunks
        // are cut from unclaimed lines, and a chunk handed back or made by
        // `jobRetryIfEnded` is claimed again with a higher fence. So only a
        // later lease needs the per-item look into `result` (measured: a
        // sixth of the daemon's CPU in stream mode).
        let sql = lease.fence == 1
            ? "SELECT key, data FROM item WHERE key > (?1 << 32) + ?2 AND key <= (?1 << 32) + ?3 ORDER BY key LIMIT ?4"
            : """
                SELECT key, data FROM item
                WHERE key > (?1 << 32) + ?2 AND key <= (?1 << 32) + ?3
                  AND NOT EXISTS (SELECT 1 FROM result WHERE result.key = item.key)
                ORDER BY key LIMIT ?4
                """
        return try read { db in
            let raw = try db.cachedStatement(sql: sql).sqliteStatement
            sqlite3_reset(raw)
            sqlite3_bind_int64(raw, 1, lease.job.id.rawValue)
            sqlite3_bind_int64(raw, 2, max(afterLine, lease.firstLine - 1))
            sqlite3_bind_int64(raw, 3, lease.lastLine)
            sqlite3_bind_int64(raw, 4, Int64(limit))
            defer { sqlite3_reset(raw) }
            var items: [WorkItem] = []
            items.reserveCapacity(min(limit, Int(lease.lineCount)))
            while true {
                let code = sqlite3_step(raw)
                if code == SQLITE_DONE { return items }
                guard code == SQLITE_ROW else {
                    throw Self.stepFailure(code, db)
                }
                let data = sqlite3_column_blob(raw, 1).map { Data(bytes: $0, count: Int(sqlite3_column_bytes(raw, 1))) } ?? Data()
                items.append(WorkItem(line: sqlite3_column_int64(raw, 0) & ItemKey.maxLine, data: data))
            }
        }
    }

    /// The lease's `LeaseState`, read in one small query (on every watch,
    /// and once per lease and group commit, so it reads no more than this:
    /// the job's spec is immutable and comes with the lease).
    static func leaseState(_ db: Database, _ lease: ChunkLease) throws -> LeaseState? {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT chunk.state, chunk.fence, job.state, job.item_count, job.finished_count,
                       job.failed_count, job.next_sequence, chunk.owner
                FROM chunk JOIN job ON job.id = chunk.job_id WHERE chunk.id = ? AND chunk.job_id = ?
                """),
            arguments: [lease.chunkID, lease.job.id.rawValue])
        else { return nil }
        // State, fence, job and owner: a chunk id of a deleted job must never
        // be mistaken for this lease's chunk.
        return LeaseState(
            chunkHeld: (row[0] as String) == "leased" && (row[1] as Int64) == lease.fence
                && (row[7] as String?) == lease.owner,
            jobState: JobState(rawValue: row[2]) ?? .cancelled, itemCount: row[3], finishedCount: row[4],
            failedCount: row[5], nextSequence: row[6])
    }

    public func leaseStatus(_ lease: ChunkLease) throws -> LeaseStatus {
        try read { db in
            guard let state = try Self.leaseState(db, lease) else { return .jobEnded }
            return StoreRules.leaseStatus(of: lease, chunkHeld: state.chunkHeld, jobState: state.jobState)
        }
    }

    public func chunksLeasedList() throws -> [LeasedChunk] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT owner, job_id, first_line, last_line FROM chunk WHERE state = 'leased' ORDER BY job_id, first_line"
            ).map { LeasedChunk(owner: $0["owner"], job: JobID($0["job_id"]), firstLine: $0["first_line"], lastLine: $0["last_line"]) }
        }
    }

    public func chunksHeld(owner: String) throws -> [ChunkLease] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, job_id, first_line, last_line, fence, slot FROM chunk WHERE owner = ? AND state = 'leased'",
                arguments: [owner]
            ).map { row in
                ChunkLease(
                    chunkID: row["id"], job: try Self.requireJob(db, JobID(row["job_id"])), firstLine: row["first_line"],
                    lastLine: row["last_line"], fence: row["fence"], owner: owner, slot: row["slot"] ?? 1)
            }
        }
    }

    public func chunksLeasedExist(job: JobID) throws -> Bool {
        try read { db in
            try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM chunk WHERE job_id = ? AND state = 'leased')",
                arguments: [job.rawValue]) ?? false
        }
    }

    public func chunkReleaseIfLeaseHeld(_ lease: ChunkLease) throws {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL
                    WHERE id = ? AND job_id = ? AND fence = ? AND owner = ? AND state = 'leased'
                    """,
                arguments: [lease.chunkID, lease.job.id.rawValue, lease.fence, lease.owner])
        }
    }

    public func chunksRenewLeases(owner: String, now: Date, leaseDuration: TimeInterval) throws -> Int {
        try write { db in
            try db.execute(
                sql: "UPDATE chunk SET lease_expires_at = ? WHERE owner = ? AND state = 'leased'",
                arguments: [now.timeIntervalSince1970 + leaseDuration, owner])
            return db.changesCount
        }
    }

    public func chunksReleaseOwned(owner: String) throws -> Int {
        try write { db in try Self.releaseChunks(db, owner: owner) }
    }

    static func releaseChunks(_ db: Database, owner: String) throws -> Int {
        try db.execute(
            sql: "UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL WHERE owner = ? AND state = 'leased'",
            arguments: [owner])
        return db.changesCount
    }

    /// Hands back every chunk of the job that is still leased: the job ended
    /// (cancelled, halted now), and a job that ended holds no chunk.
    static func releaseChunks(_ db: Database, job: JobID) throws {
        try db.cachedStatement(sql: """
            UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL
            WHERE job_id = ? AND state = 'leased'
            """).execute(arguments: [job.rawValue])
    }

    public func chunksReleaseExpired(now: Date) throws -> Int {
        let expired = try read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM chunk WHERE state = 'leased' AND lease_expires_at < ?)",
                              arguments: [now.timeIntervalSince1970]) ?? false
        }
        guard expired else { return 0 }
        return try write { db in
            try db.execute(
                sql: """
                    UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL
                    WHERE state = 'leased' AND lease_expires_at < ?
                    """,
                arguments: [now.timeIntervalSince1970])
            return db.changesCount
        }
    }
}
