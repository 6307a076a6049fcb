import BatchStore
import Foundation

extension PostgresStore {
    /// The job columns, times as seconds since 1970 on the server.
    static let jobColumns = """
        id, array_to_json(command)::text, command_bytes, working_directory, environment, chunk_size, nul_separated,
        stream, retries, retry_delay, timeout_seconds, timeout_percent, max_output, halt_when, halt_fail_count,
        halt_fail_percent, halt_reason, state, item_count, finished_count, failed_count,
        extract(epoch FROM created_at)::float8, extract(epoch FROM sealed_at)::float8,
        extract(epoch FROM finished_at)::float8, submitter_host, submitter_pid, submitter_start, submitter_machine,
        warning, extract(epoch FROM warning_at)::float8, max_running, max_running_percent, group_size, item_token,
        column_separator, priority, weight, rate_per_second
        """

    static func job(_ rows: PostgresResult, _ r: Int) throws -> Job {
        let id = rows.int(r, 0) ?? 0
        let command = (try? JSONDecoder().decode([String].self, from: Data((rows.string(r, 1) ?? "[]").utf8))) ?? []
        let argumentBytes = (rows.data(r, 2) ?? Data()).split(separator: 0, omittingEmptySubsequences: false).map { Array($0) }
        let folder = Array(rows.data(r, 3) ?? Data())
        let environment = StoredJobSpec.environment(rows.data(r, 4) ?? Data())
        guard let state = rows.string(r, 17).flatMap(JobState.init(rawValue:)) else {
            throw StoreError(.storage, "job \(id) has an unknown state '\(rows.string(r, 17) ?? "")'")
        }
        let timeout = StoredJobSpec.timeout(seconds: rows.double(r, 10), percent: rows.double(r, 11))
        let halt = StoredJobSpec.halt(when: rows.string(r, 13), count: rows.int(r, 14), percent: rows.double(r, 15))
        let spec = JobSpec(
            command: command,
            workingDirectory: String(decoding: folder, as: UTF8.self),
            environment: environment,
            chunkSize: ChunkSizePolicy(storedValue: Int(rows.int(r, 5) ?? 0)),
            nulSeparated: rows.bool(r, 6) ?? false,
            retries: Int(rows.int(r, 8) ?? 0),
            retryDelay: rows.double(r, 9) ?? 1,
            timeout: timeout,
            maxOutput: Int(rows.int(r, 12) ?? Int64(JobSpec.defaultMaxOutput)),
            halt: halt,
            stream: rows.bool(r, 7) ?? false,
            argumentBytes: argumentBytes,
            workingDirectoryBytes: folder,
            maxRunning: rows.int(r, 30).map { RunningLimit.count(Int($0)) } ?? rows.double(r, 31).map(RunningLimit.percentOfWorkers),
            grouping: rows.int(r, 32).map { ItemGrouping(storedValue: Int($0)) },
            itemToken: rows.data(r, 33).map { Array($0) },
            columnSeparator: rows.string(r, 34),
            priority: Int(rows.int(r, 35) ?? 0),
            weight: rows.double(r, 36) ?? 1,
            rate: rows.double(r, 37).map(RateLimit.init(perSecond:)))
        return Job(
            id: JobID(id), spec: spec, state: state,
            itemCount: rows.int(r, 18) ?? 0, finishedCount: rows.int(r, 19) ?? 0, failedCount: rows.int(r, 20) ?? 0,
            createdAt: Date(timeIntervalSince1970: rows.double(r, 21) ?? 0),
            sealedAt: rows.double(r, 22).map(Date.init(timeIntervalSince1970:)),
            finishedAt: rows.double(r, 23).map(Date.init(timeIntervalSince1970:)),
            haltReason: rows.string(r, 16),
            ownerUID: nil,
            submitter: rows.string(r, 24).map { host in
                ProcessIdentity(
                    host: host, pid: Int32(rows.int(r, 25) ?? 0), start: rows.int(r, 26) ?? 0, machineID: rows.string(r, 27))
            },
            warning: rows.string(r, 28),
            warningAt: rows.double(r, 29).map(Date.init(timeIntervalSince1970:)))
    }

    /// The job, its row locked as `lock` says (writers take `.write`; only a
    /// delete takes `.delete`).
    static func fetchJob(_ c: PostgresConnection, _ id: JobID, lock: PostgresRowLock = .none) throws -> Job? {
        let rows = try c.execute("SELECT \(jobColumns) FROM job WHERE id = $1\(lock.rawValue)", [.int(id.rawValue)])
        return rows.count == 0 ? nil : try job(rows, 0)
    }

    static func requireJob(_ c: PostgresConnection, _ id: JobID, lock: PostgresRowLock = .none) throws -> Job {
        guard let job = try fetchJob(c, id, lock: lock) else { throw StoreError(.jobNotFound, "no job \(id)") }
        return job
    }

    public func jobCreate(_ spec: JobSpec, now: Date) throws -> Job {
        let submitter = ProcessIdentity.current
        let stored = try StoredJobSpec(spec)
        return try run { c in
            let rows = try c.execute("""
                INSERT INTO job (command, command_bytes, working_directory, environment, chunk_size, nul_separated, stream,
                                 retries, retry_delay, timeout_seconds, timeout_percent, max_output, halt_when,
                                 halt_fail_count, halt_fail_percent, state, created_at, submitter_host, submitter_pid,
                                 submitter_start, submitter_machine, max_running, max_running_percent, group_size,
                                 item_token, column_separator, priority, weight, rate_per_second)
                VALUES (ARRAY(SELECT json_array_elements_text($1::json)), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                        $13, $14, $15, 'open', to_timestamp($16), $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)
                RETURNING \(Self.jobColumns)
                """,
                [.text(stored.commandJSON), .bytes(stored.commandBytes), .bytes(Data(spec.workingDirectoryBytes)),
                 .bytes(stored.environment), .int(spec.chunkSize.storedValue), .text(spec.nulSeparated ? "t" : "f"),
                 .text(spec.stream ? "t" : "f"), .int(spec.retries), .double(spec.retryDelay), .double(stored.timeoutSeconds),
                 .double(stored.timeoutPercent), .int(spec.maxOutput), .string(spec.halt?.when.rawValue), .int(stored.haltCount),
                 .double(stored.haltPercent), .double(now.timeIntervalSince1970), .text(submitter.host), .int(Int64(submitter.pid)),
                 .int(submitter.start), .string(submitter.machineID), .int(stored.maxRunningCount), .double(stored.maxRunningPercent),
                 .int(spec.grouping?.storedValue), spec.itemToken.map { .bytes(Data($0)) } ?? .null,
                 .string(spec.columnSeparator), .int(spec.priority), .double(spec.weight), .double(spec.rate?.perSecond)])
            return try Self.job(rows, 0)
        }
    }

    public func jobSubmitterRecordIfOpen(_ id: JobID, _ submitter: ProcessIdentity) throws {
        try run { c in
            try c.transaction {
                let job = try Self.requireJob(c, id, lock: .write)
                guard job.state == .open else {
                    throw StoreError(.jobState, "job \(id) is \(job.state.rawValue): its input is already complete, nothing to resume")
                }
                try c.execute(
                    "UPDATE job SET submitter_host = $1, submitter_pid = $2, submitter_start = $3, submitter_machine = $4 WHERE id = $5",
                    [.text(submitter.host), .int(Int64(submitter.pid)), .int(submitter.start), .string(submitter.machineID),
                     .int(id.rawValue)])
            }
        }
    }

    public func jobWarningRecord(_ id: JobID, _ warning: String, now: Date) throws {
        try run { c in
            try c.execute("UPDATE job SET warning = $1, warning_at = to_timestamp($2) WHERE id = $3",
                          [.text(warning), .double(now.timeIntervalSince1970), .int(id.rawValue)])
        }
    }

    public func jobFetch(_ id: JobID) throws -> Job? {
        try run { c in try Self.fetchJob(c, id) }
    }

    public func jobsList(limit: Int, states: Set<JobState>?, before: JobID?) throws -> [Job] {
        let filter = states.map { states in
            "AND state IN (" + states.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ") + ")"
        } ?? ""
        return try run { c in
            let rows = try c.execute(
                "SELECT \(Self.jobColumns) FROM job WHERE id < $2 \(filter) ORDER BY id DESC LIMIT $1",
                [.int(limit), .int(before?.rawValue ?? Int64.max)])
            return try (0..<rows.count).map { try Self.job(rows, $0) }
        }
    }

    public func jobsRunnableExist() throws -> Bool {
        try run { c in
            try c.execute("SELECT EXISTS (SELECT 1 FROM job WHERE state IN ('open', 'sealed'))").bool(0, 0) ?? false
        }
    }

    public func jobsClaimableExist() throws -> Bool {
        try run { c in
            try c.execute("""
                SELECT EXISTS (SELECT 1 FROM job WHERE state IN ('open', 'sealed')
                    AND (next_line <= item_count
                         OR EXISTS (SELECT 1 FROM chunk WHERE chunk.job_id = job.id AND chunk.state = 'released')))
                """).bool(0, 0) ?? false
        }
    }

    /// Items arrive as one statement of arrays (`unnest`), then the job's
    /// count moves on under a guard on its state and count. The job row is
    /// locked only from that guarded update to the commit, not while the
    /// items are written, so a group commit or a claim on the same job does
    /// not wait for the insert (and the insert's foreign-key check does not
    /// wait for theirs: they lock `FOR NO KEY UPDATE`). A failed guard rolls
    /// the items back; the reason is read afterwards.
    public func itemsAppendIfOpen(job id: JobID, firstLine: Int64, items: [Data]) throws {
        guard !items.isEmpty else { return }
        try run { c in
            do {
                try c.transaction {
                    try c.execute("""
                        INSERT INTO item (job_id, line, data)
                        SELECT $1, $2 + ordinality - 1, data FROM unnest($3::bytea[]) WITH ORDINALITY AS t(data, ordinality)
                        """, [.int(id.rawValue), .int(firstLine), .bytes(PostgresArray.binaryBytes(items))])
                    let moved = try c.execute("""
                        UPDATE job SET item_count = item_count + $1
                        WHERE id = $2 AND state = 'open' AND item_count = $3 RETURNING id
                        """, [.int(items.count), .int(id.rawValue), .int(firstLine - 1)])
                    if moved.count != 1 { throw StoreError(.itemOrder, "job \(id): the append's guard failed") }
                }
            } catch let error as StoreError where error.code == .itemOrder || error.code == .constraint {
                throw try Self.appendRefusal(c, id, firstLine: firstLine) ?? error
            }
        }
    }

    /// Why an append from `firstLine` cannot go in, read from the job as it
    /// is now; nil when nothing about the job explains it.
    static func appendRefusal(_ c: PostgresConnection, _ id: JobID, firstLine: Int64) throws -> StoreError? {
        let rows = try c.execute("SELECT state, item_count FROM job WHERE id = $1", [.int(id.rawValue)])
        guard rows.count == 1 else { return StoreError(.jobNotFound, "no job \(id)") }
        let state = rows.string(0, 0) ?? ""
        let itemCount = rows.int(0, 1) ?? 0
        guard state == JobState.open.rawValue else {
            return StoreError(.jobState, "job \(id) is \(state): its input is complete")
        }
        guard itemCount + 1 == firstLine else {
            return StoreError(.itemOrder, "job \(id) has \(itemCount) items stored; cannot append from line \(firstLine) (is another submitter writing to it?)")
        }
        return nil
    }

    public func itemFetch(job: JobID, line: Int64) throws -> Data? {
        try run { c in
            try c.execute("SELECT data FROM item WHERE job_id = $1 AND line = $2", [.int(job.rawValue), .int(line)]).data(0, 0)
        }
    }

    public func itemsFetch(job: JobID, lines: [Int64]) throws -> [Int64: Data] {
        guard !lines.isEmpty else { return [:] }
        return try run { c in
            let rows = try c.execute(
                "SELECT line, data FROM item WHERE job_id = $1 AND line = ANY($2::bigint[])",
                [.int(job.rawValue), .text(PostgresArray.integers(lines))])
            var items: [Int64: Data] = [:]
            for r in 0..<rows.count { if let line = rows.int(r, 0) { items[line] = rows.data(r, 1) ?? Data() } }
            return items
        }
    }

    public func jobSealIfOpen(_ id: JobID, now: Date) throws -> Job {
        try run { c in
            try c.transaction {
                let job = try Self.requireJob(c, id, lock: .write)
                guard job.state == .open else {
                    throw StoreError(.jobState, "job \(id) is \(job.state.rawValue), not open: its input was already complete")
                }
                let done = job.finishedCount == job.itemCount
                try c.execute(
                    "UPDATE job SET state = $1, sealed_at = to_timestamp($2), finished_at = to_timestamp($3) WHERE id = $4",
                    [.text(done ? "complete" : "sealed"), .double(now.timeIntervalSince1970),
                     .double(done ? now.timeIntervalSince1970 : nil), .int(id.rawValue)])
                return try Self.requireJob(c, id)
            }
        }
    }

    public func jobCancelIfRunnable(_ id: JobID, now: Date) throws -> Bool {
        try run { c in
            try c.transaction {
                _ = try Self.requireJob(c, id, lock: .write)
                let changed = try c.execute(
                    "UPDATE job SET state = 'cancelled', finished_at = to_timestamp($1) WHERE id = $2 AND state IN ('open', 'sealed')",
                    [.double(now.timeIntervalSince1970), .int(id.rawValue)]).changed
                // Its leased chunks are handed back by the schema's trigger
                // (`job_cancelled`): a submitter may not write chunks.
                return changed > 0
            }
        }
    }

    public func jobPrioritySetIfRunnable(_ id: JobID, priority: Int) throws {
        try run { c in
            try c.transaction {
                let job = try Self.requireJob(c, id, lock: .write)
                guard job.state.isRunnable else {
                    throw StoreError(.jobState, "job \(id) is \(job.state.rawValue): only an open or running job has a priority to change")
                }
                try c.execute("UPDATE job SET priority = $1 WHERE id = $2", [.int(priority), .int(id.rawValue)])
            }
        }
    }

    public func jobDelete(_ id: JobID, force: Bool) throws {
        try run { c in
            try c.transaction {
                let job = try Self.requireJob(c, id, lock: .delete)
                guard force || job.state.isFinal else {
                    throw StoreError(.jobState, "job \(id) is still \(job.state.rawValue); cancel it first, or remove it with --force")
                }
                try c.execute("DELETE FROM job WHERE id = $1", [.int(id.rawValue)])
            }
        }
    }

    public func jobsDeleteEnded(before cutoff: Date) throws -> [JobID] {
        try run { c in
            let rows = try c.execute(
                "DELETE FROM job WHERE state IN ('complete', 'failed', 'cancelled') AND finished_at < to_timestamp($1) RETURNING id",
                [.double(cutoff.timeIntervalSince1970)])
            return (0..<rows.count).compactMap { rows.int($0, 0) }.sorted().map(JobID.init)
        }
    }

    public func jobRetryIfEnded(_ id: JobID, lines: [Int64]?, policy: JobPolicyChange, now: Date) throws -> Int {
        try run { c in
            try c.transaction {
                let job = try Self.requireJob(c, id, lock: .write)
                guard job.state.isFinal else {
                    throw StoreError(.jobState, "job \(id) is still \(job.state.rawValue); retry it once it has ended (or cancel it)")
                }
                if let lines, let bad = lines.first(where: { $0 < 1 || $0 > job.itemCount }) {
                    throw StoreError(.jobState, "job \(id) has no line \(bad) (it has \(job.itemCount) items)")
                }
                let rows = try c.execute(
                    "SELECT line, group_first FROM result WHERE job_id = $1 AND status = 'failed' ORDER BY line", [.int(id.rawValue)])
                let failedRows = (0..<rows.count).map { (line: rows.int($0, 0) ?? 0, group: rows.int($0, 1)) }
                var failed = failedRows.map(\.line)
                if let lines {
                    let wanted = Set(lines)
                    let groups = Set(failedRows.filter { wanted.contains($0.line) }.compactMap(\.group))
                    failed = failedRows.filter { wanted.contains($0.line) || $0.group.map(groups.contains) == true }.map(\.line)
                }
                let neverRan = job.itemCount - job.finishedCount
                guard !failed.isEmpty || neverRan > 0 else {
                    throw StoreError(.jobState, "job \(id) has no failed or unfinished items\(lines == nil ? "" : " among those lines") to run again")
                }
                try c.execute(
                    "DELETE FROM result WHERE job_id = $1 AND line = ANY($2::bigint[])", [.int(id.rawValue), .text(PostgresArray.integers(failed))])
                let openRows = try c.execute(
                    "SELECT first_line, last_line FROM chunk WHERE job_id = $1 AND state <> 'done'", [.int(id.rawValue)])
                let open = (0..<openRows.count).map { (first: openRows.int($0, 0) ?? 0, last: openRows.int($0, 1) ?? 0) }
                try c.execute("""
                    UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL, fence = fence + 1
                    WHERE job_id = $1 AND state <> 'done'
                    """, [.int(id.rawValue)])
                let uncovered = failed.filter { line in !open.contains { $0.first <= line && line <= $0.last } }
                for chunk in StoreRules.retryChunks(uncovered) {
                    try c.execute(
                        "INSERT INTO chunk (job_id, first_line, last_line, state, fence) VALUES ($1, $2, $3, 'released', 1)",
                        [.int(id.rawValue), .int(chunk.lowerBound), .int(chunk.upperBound)])
                }
                let count = Int64(failed.count)
                try c.execute("""
                    UPDATE job SET finished_count = finished_count - $1, failed_count = failed_count - $1,
                        state = CASE WHEN sealed_at IS NULL THEN 'open' ELSE 'sealed' END,
                        finished_at = NULL, halt_reason = NULL, warning = NULL, warning_at = NULL
                    WHERE id = $2
                    """, [.int(count), .int(id.rawValue)])
                try Self.replacePolicy(c, id, policy)
                return failed.count
            }
        }
    }

    static func replacePolicy(_ c: PostgresConnection, _ id: JobID, _ policy: JobPolicyChange) throws {
        if let retries = policy.retries {
            try c.execute("UPDATE job SET retries = $1 WHERE id = $2", [.int(retries), .int(id.rawValue)])
        }
        if let halt = policy.halt {
            var count: Int64?
            var percent: Double?
            switch halt?.threshold {
            case .count(let n): count = n
            case .percent(let p): percent = p
            case nil: break
            }
            try c.execute("UPDATE job SET halt_when = $1, halt_fail_count = $2, halt_fail_percent = $3 WHERE id = $4",
                          [.string(halt?.when.rawValue), .int(count), .double(percent), .int(id.rawValue)])
        }
        if let timeout = policy.timeout {
            var seconds: Double?
            var percent: Double?
            switch timeout {
            case .seconds(let s): seconds = s
            case .percentOfMedian(let p): percent = p
            case nil: break
            }
            try c.execute("UPDATE job SET timeout_seconds = $1, timeout_percent = $2 WHERE id = $3",
                          [.double(seconds), .double(percent), .int(id.rawValue)])
        }
    }

    /// Hands back every leased chunk of the job (it ended).
    static func releaseChunks(_ c: PostgresConnection, job: JobID) throws {
        try c.execute("""
            UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL
            WHERE job_id = $1 AND state = 'leased'
            """, [.int(job.rawValue)])
    }
}
