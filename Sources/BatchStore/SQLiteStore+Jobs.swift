import Foundation
import GRDB
import GRDBSQLite

extension SQLiteStore {
    static let jobColumns = """
        id, command, working_directory, environment, chunk_size, nul_separated, stream, retries, retry_delay,
        timeout_seconds, timeout_percent, max_output, halt_when, halt_fail_count, halt_fail_percent, halt_reason,
        state, item_count, finished_count, failed_count, created_at, sealed_at, finished_at, owner_uid,
        submitter_host, submitter_pid, submitter_start, command_bytes, working_directory_bytes, warning, warning_at,
        max_running, max_running_percent, group_size, item_token, column_separator, priority, weight, rate_per_second,
        submitter_machine
        """

    static func job(from row: Row) throws -> Job {
        let commandJSON: String = row["command"]
        let command = try JSONDecoder().decode([String].self, from: Data(commandJSON.utf8))
        let environment = StoredJobSpec.environment(row["environment"])
        let stateText: String = row["state"]
        guard let state = JobState(rawValue: stateText) else {
            throw StoreError(.storage, "job \(row["id"] as Int64) has an unknown state '\(stateText)'")
        }
        let timeout = StoredJobSpec.timeout(seconds: row["timeout_seconds"], percent: row["timeout_percent"])
        let halt = StoredJobSpec.halt(when: row["halt_when"], count: row["halt_fail_count"], percent: row["halt_fail_percent"])
        let commandBytes = (row["command_bytes"] as Data?).map {
            $0.split(separator: 0, omittingEmptySubsequences: false).map { Array($0) }
        }
        let spec = JobSpec(
            command: command,
            workingDirectory: row["working_directory"],
            environment: environment,
            chunkSize: ChunkSizePolicy(storedValue: row["chunk_size"]),
            nulSeparated: row["nul_separated"],
            retries: row["retries"],
            retryDelay: row["retry_delay"],
            timeout: timeout,
            maxOutput: row["max_output"],
            halt: halt,
            stream: row["stream"],
            argumentBytes: commandBytes,
            workingDirectoryBytes: (row["working_directory_bytes"] as Data?).map { Array($0) },
            maxRunning: (row["max_running"] as Int?).map(RunningLimit.count)
                ?? (row["max_running_percent"] as Double?).map(RunningLimit.percentOfWorkers),
            grouping: (row["group_size"] as Int?).map(ItemGrouping.init(storedValue:)),
            itemToken: (row["item_token"] as Data?).map { Array($0) },
            columnSeparator: row["column_separator"],
            priority: row["priority"],
            weight: row["weight"],
            rate: (row["rate_per_second"] as Double?).map(RateLimit.init(perSecond:)))
        return Job(
            id: JobID(row["id"]),
            spec: spec,
            state: state,
            itemCount: row["item_count"],
            finishedCount: row["finished_count"],
            failedCount: row["failed_count"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            sealedAt: (row["sealed_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            finishedAt: (row["finished_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            haltReason: row["halt_reason"],
            ownerUID: (row["owner_uid"] as Int64?).map { UInt32(truncatingIfNeeded: $0) },
            submitter: (row["submitter_host"] as String?).map { host in
                ProcessIdentity(
                    host: host, pid: row["submitter_pid"] ?? 0, start: row["submitter_start"] ?? 0,
                    machineID: row["submitter_machine"])
            },
            warning: row["warning"],
            warningAt: (row["warning_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    static func fetchJob(_ db: Database, _ id: JobID) throws -> Job? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(jobColumns) FROM job WHERE id = ?"), arguments: [id.rawValue])
            .map(job(from:))
    }

    static func requireJob(_ db: Database, _ id: JobID) throws -> Job {
        guard let job = try fetchJob(db, id) else { throw StoreError(.jobNotFound, "no job \(id)") }
        return job
    }

    public func jobCreate(_ spec: JobSpec, now: Date) throws -> Job {
        let submitter = ProcessIdentity.current
        let stored = try StoredJobSpec(spec)
        return try write { db in
            try db.execute(
                sql: """
                    INSERT INTO job (command, working_directory, environment, chunk_size, nul_separated, stream,
                                     retries, retry_delay, timeout_seconds, timeout_percent, max_output, halt_when,
                                     halt_fail_count, halt_fail_percent, state, created_at, owner_uid,
                                     submitter_host, submitter_pid, submitter_start, command_bytes,
                                     working_directory_bytes, max_running, max_running_percent, group_size,
                                     item_token, column_separator, priority, weight, rate_per_second, submitter_machine)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [stored.commandJSON, spec.workingDirectory, stored.environment, spec.chunkSize.storedValue,
                            spec.nulSeparated, spec.stream, spec.retries, spec.retryDelay, stored.timeoutSeconds, stored.timeoutPercent,
                            spec.maxOutput, spec.halt?.when.rawValue, stored.haltCount, stored.haltPercent,
                            now.timeIntervalSince1970, Int64(getuid()), submitter.host, submitter.pid, submitter.start,
                            stored.commandBytes, Data(spec.workingDirectoryBytes),
                            stored.maxRunningCount, stored.maxRunningPercent, spec.grouping?.storedValue,
                            spec.itemToken.map { Data($0) }, spec.columnSeparator, spec.priority, spec.weight,
                            spec.rate?.perSecond, submitter.machineID])
            guard db.lastInsertedRowID <= ItemKey.maxJob else {
                throw StoreError(.storage, "this database has given out its last job id (\(ItemKey.maxJob)); start a new database file")
            }
            return try Self.requireJob(db, JobID(db.lastInsertedRowID))
        }
    }

    public func jobSubmitterRecordIfOpen(_ id: JobID, _ submitter: ProcessIdentity) throws {
        try write { db in
            let job = try Self.requireJob(db, id)
            guard job.state == .open else {
                throw StoreError(.jobState, "job \(id) is \(job.state.rawValue): its input is already complete, nothing to resume")
            }
            try db.execute(
                sql: "UPDATE job SET submitter_host = ?, submitter_pid = ?, submitter_start = ?, submitter_machine = ? WHERE id = ?",
                arguments: [submitter.host, submitter.pid, submitter.start, submitter.machineID, id.rawValue])
        }
    }

    public func jobWarningRecord(_ id: JobID, _ warning: String, now: Date) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE job SET warning = ?, warning_at = ? WHERE id = ?",
                arguments: [warning, now.timeIntervalSince1970, id.rawValue])
        }
    }

    public func jobFetch(_ id: JobID) throws -> Job? {
        try read { db in try Self.fetchJob(db, id) }
    }

    public func jobsList(limit: Int, states: Set<JobState>?, before: JobID?) throws -> [Job] {
        let filter = states.map { states in
            "AND state IN (" + states.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ") + ")"
        } ?? ""
        return try read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.jobColumns) FROM job WHERE id < ? \(filter) ORDER BY id DESC LIMIT ?",
                arguments: [before?.rawValue ?? Int64.max, limit]
            ).map(Self.job(from:))
        }
    }

    public func jobsRunnableExist() throws -> Bool {
        try read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM job WHERE state IN ('open', 'sealed'))") ?? false
        }
    }

    public func jobsClaimableExist() throws -> Bool {
        try read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM job WHERE state IN ('open', 'sealed')
                    AND (next_line <= item_count
                         OR EXISTS (SELECT 1 FROM chunk WHERE chunk.job_id = job.id AND chunk.state = 'released')))
                """) ?? false
        }
    }

    public func itemsAppendIfOpen(job id: JobID, firstLine: Int64, items: [Data]) throws {
        guard !items.isEmpty else { return }
        try write { db in
            // Only the two columns the guard needs: this runs once per batch of input.
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT state, item_count FROM job WHERE id = ?"), arguments: [id.rawValue])
            else { throw StoreError(.jobNotFound, "no job \(id)") }
            let state: String = row[0]
            let itemCount: Int64 = row[1]
            guard state == JobState.open.rawValue else {
                throw StoreError(.jobState, "job \(id) is \(state): its input is complete")
            }
            guard itemCount + 1 == firstLine else {
                throw StoreError(.itemOrder, "job \(id) has \(itemCount) items stored; cannot append from line \(firstLine) (is another submitter writing to it?)")
            }
            guard itemCount + Int64(items.count) <= ItemKey.maxLine else {
                throw StoreError(.jobState, "job \(id) is full: a job on a SQLite file holds at most \(ItemKey.maxLine) items (line \(ItemKey.maxLine + 1) refused)")
            }
            // Bound with SQLite's C API: GRDB's boxed arguments cost more than
            // the insert itself (measured with perf while submitting).
            let raw = try db.cachedStatement(sql: "INSERT INTO item (key, data) VALUES (?, ?)").sqliteStatement
            let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
            let firstKey = ItemKey.of(job: id.rawValue, line: firstLine)
            for (offset, data) in items.enumerated() {
                sqlite3_reset(raw)
                sqlite3_bind_int64(raw, 1, firstKey + Int64(offset))
                _ = data.withUnsafeBytes {
                    sqlite3_bind_blob(raw, 2, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), transient)
                }
                let code = sqlite3_step(raw)
                sqlite3_reset(raw)
                guard code == SQLITE_DONE else {
                    throw Self.stepFailure(code, db)
                }
            }
            try db.execute(
                sql: "UPDATE job SET item_count = item_count + ? WHERE id = ?",
                arguments: [items.count, id.rawValue])
        }
    }

    public func itemFetch(job: JobID, line: Int64) throws -> Data? {
        try read { db in
            guard (1...ItemKey.maxLine).contains(line) else { return nil }
            return try Data.fetchOne(db, sql: "SELECT data FROM item WHERE key = ?", arguments: [ItemKey.of(job: job.rawValue, line: line)])
        }
    }

    public func jobPrioritySetIfRunnable(_ id: JobID, priority: Int) throws {
        try write { db in
            let job = try Self.requireJob(db, id)
            guard job.state.isRunnable else {
                throw StoreError(.jobState, "job \(id) is \(job.state.rawValue): only an open or running job has a priority to change")
            }
            try db.execute(sql: "UPDATE job SET priority = ? WHERE id = ?", arguments: [priority, id.rawValue])
        }
    }

    public func itemsFetch(job: JobID, lines: [Int64]) throws -> [Int64: Data] {
        let wanted = Set(lines.filter { (1...ItemKey.maxLine).contains($0) })
        guard let low = wanted.min(), let high = wanted.max() else { return [:] }
        return try read { db in
            var items: [Int64: Data] = [:]
            if high - low < Int64(lines.count) * 4 {
                // Close together (input order, or nearly): one range scan.
                let rows = try Row.fetchCursor(
                    db.cachedStatement(sql: "SELECT key & 4294967295, data FROM item WHERE key BETWEEN ? AND ?"),
                    arguments: [ItemKey.of(job: job.rawValue, line: low), ItemKey.of(job: job.rawValue, line: high)])
                while let row = try rows.next() {
                    let line: Int64 = row[0]
                    if wanted.contains(line) { items[line] = row[1] }
                }
                return items
            }
            let statement = try db.cachedStatement(sql: "SELECT data FROM item WHERE key = ?")
            for line in wanted {
                if let data = try Data.fetchOne(statement, arguments: [ItemKey.of(job: job.rawValue, line: line)]) { items[line] = data }
            }
            return items
        }
    }

    public func jobSealIfOpen(_ id: JobID, now: Date) throws -> Job {
        try write { db in
            let job = try Self.requireJob(db, id)
            guard job.state == .open else {
                throw StoreError(.jobState, "job \(id) is \(job.state.rawValue), not open: its input was already complete")
            }
            let done = job.finishedCount == job.itemCount
            try db.execute(
                sql: "UPDATE job SET state = ?, sealed_at = ?, finished_at = ? WHERE id = ?",
                arguments: [done ? "complete" : "sealed", now.timeIntervalSince1970,
                            done ? now.timeIntervalSince1970 : nil, id.rawValue])
            return try Self.requireJob(db, id)
        }
    }

    public func jobCancelIfRunnable(_ id: JobID, now: Date) throws -> Bool {
        try write { db in
            _ = try Self.requireJob(db, id)
            try db.execute(
                sql: "UPDATE job SET state = 'cancelled', finished_at = ? WHERE id = ? AND state IN ('open', 'sealed')",
                arguments: [now.timeIntervalSince1970, id.rawValue])
            guard db.changesCount > 0 else { return false }
            // A job that ended holds no chunk: the holders find the job ended
            // (their lease check), kill what they run and record nothing more.
            try Self.releaseChunks(db, job: id)
            return true
        }
    }

    public func jobDelete(_ id: JobID, force: Bool) throws {
        try write { db in
            let job = try Self.requireJob(db, id)
            guard force || job.state.isFinal else {
                throw StoreError(.jobState, "job \(id) is still \(job.state.rawValue); cancel it first, or remove it with --force")
            }
            try db.execute(sql: "DELETE FROM job WHERE id = ?", arguments: [id.rawValue])
        }
    }

    public func jobsDeleteEnded(before cutoff: Date) throws -> [JobID] {
        try write { db in
            let ids = try Int64.fetchAll(
                db, sql: "SELECT id FROM job WHERE state IN ('complete', 'failed', 'cancelled') AND finished_at < ?",
                arguments: [cutoff.timeIntervalSince1970])
            for id in ids { try db.execute(sql: "DELETE FROM job WHERE id = ?", arguments: [id]) }
            return ids.map(JobID.init)
        }
    }

    public func storageCompact() throws -> Bool {
        do {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM")
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
            return true
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            return false
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    public func jobRetryIfEnded(_ id: JobID, lines: [Int64]?, policy: JobPolicyChange, now: Date) throws -> Int {
        try write { db in
            let job = try Self.requireJob(db, id)
            guard job.state.isFinal else {
                throw StoreError(.jobState, "job \(id) is still \(job.state.rawValue); retry it once it has ended (or cancel it)")
            }
            if let lines, let bad = lines.first(where: { $0 < 1 || $0 > job.itemCount }) {
                throw StoreError(.jobState, "job \(id) has no line \(bad) (it has \(job.itemCount) items)")
            }
            let keys = ItemKey.range(of: id.rawValue)
            let failedRows = try Row.fetchAll(
                db, sql: "SELECT key & 4294967295, group_first FROM result WHERE key BETWEEN ? AND ? AND failed ORDER BY key",
                arguments: [keys.lowerBound, keys.upperBound])
            var failed = failedRows.map { $0[0] as Int64 }
            if let lines {
                // A listed line of a group run brings its whole group: the group's
                // output is its first item's result, and it runs again as one.
                let wanted = Set(lines)
                let groups = Set(failedRows.filter { wanted.contains($0[0]) }.compactMap { $0[1] as Int64? })
                failed = failedRows.filter { wanted.contains($0[0]) || ($0[1] as Int64?).map(groups.contains) == true }
                    .map { $0[0] as Int64 }
            }
            let neverRan = job.itemCount - job.finishedCount
            guard !failed.isEmpty || neverRan > 0 else {
                throw StoreError(.jobState, "job \(id) has no failed or unfinished items\(lines == nil ? "" : " among those lines") to run again")
            }
            let delete = try db.cachedStatement(sql: "DELETE FROM result WHERE key = ?")
            for line in failed { try delete.execute(arguments: [ItemKey.of(job: id.rawValue, line: line)]) }

            // Unfinished chunks (held by no one now that the job has ended) go
            // back with a new fence, so a straggler from before cannot record.
            let open = try Row.fetchAll(
                db, sql: "SELECT first_line, last_line FROM chunk WHERE job_id = ? AND state <> 'done'",
                arguments: [id.rawValue]
            ).map { (first: $0["first_line"] as Int64, last: $0["last_line"] as Int64) }
            try db.execute(
                sql: """
                    UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL, fence = fence + 1
                    WHERE job_id = ? AND state <> 'done'
                    """,
                arguments: [id.rawValue])
            // Reset lines in finished chunks get new chunks, one per run of consecutive lines.
            let uncovered = failed.filter { line in !open.contains { $0.first <= line && line <= $0.last } }
            let insert = try db.cachedStatement(sql: """
                INSERT INTO chunk (job_id, first_line, last_line, state, fence) VALUES (?, ?, ?, 'released', 1)
                """)
            for chunk in StoreRules.retryChunks(uncovered) {
                try insert.execute(arguments: [id.rawValue, chunk.lowerBound, chunk.upperBound])
            }
            let count = Int64(failed.count)
            try db.execute(
                sql: """
                    UPDATE job SET finished_count = finished_count - ?, failed_count = failed_count - ?,
                        state = CASE WHEN sealed_at IS NULL THEN 'open' ELSE 'sealed' END,
                        finished_at = NULL, halt_reason = NULL, warning = NULL, warning_at = NULL
                    WHERE id = ?
                    """,
                arguments: [count, count, id.rawValue])
            try Self.replacePolicy(db, id, policy)
            return failed.count
        }
    }

    static func replacePolicy(_ db: Database, _ id: JobID, _ policy: JobPolicyChange) throws {
        if let retries = policy.retries {
            try db.execute(sql: "UPDATE job SET retries = ? WHERE id = ?", arguments: [retries, id.rawValue])
        }
        if let halt = policy.halt {
            var count: Int64?
            var percent: Double?
            switch halt?.threshold {
            case .count(let n): count = n
            case .percent(let p): percent = p
            case nil: break
            }
            try db.execute(
                sql: "UPDATE job SET halt_when = ?, halt_fail_count = ?, halt_fail_percent = ? WHERE id = ?",
                arguments: [halt?.when.rawValue, count, percent, id.rawValue])
        }
        if let timeout = policy.timeout {
            var seconds: Double?
            var percent: Double?
            switch timeout {
            case .seconds(let s): seconds = s
            case .percentOfMedian(let p): percent = p
            case nil: break
            }
            try db.execute(
                sql: "UPDATE job SET timeout_seconds = ?, timeout_percent = ? WHERE id = ?",
                arguments: [seconds, percent, id.rawValue])
        }
    }
}
