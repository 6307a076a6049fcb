import Foundation
import GRDB

extension SQLiteStore {
    static let jobColumns = """
        id, command, working_directory, environment, chunk_size, nul_separated, state, item_count,
        finished_count, failed_count, created_at, sealed_at, finished_at
        """

    static func job(from row: Row) throws -> Job {
        let commandJSON: String = row["command"]
        let command = try JSONDecoder().decode([String].self, from: Data(commandJSON.utf8))
        let environmentBlob: Data = row["environment"]
        let environment = environmentBlob.isEmpty
            ? [] : environmentBlob.split(separator: 0, omittingEmptySubsequences: false).map { Data($0) }
        let stateText: String = row["state"]
        guard let state = JobState(rawValue: stateText) else {
            throw StoreError(.storage, "job \(row["id"] as Int64) has an unknown state '\(stateText)'")
        }
        let spec = JobSpec(
            command: command,
            workingDirectory: row["working_directory"],
            environment: environment,
            chunkSize: ChunkSizePolicy(storedValue: row["chunk_size"]),
            nulSeparated: row["nul_separated"])
        return Job(
            id: JobID(row["id"]),
            spec: spec,
            state: state,
            itemCount: row["item_count"],
            finishedCount: row["finished_count"],
            failedCount: row["failed_count"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            sealedAt: (row["sealed_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            finishedAt: (row["finished_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
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
        let command = String(decoding: try JSONEncoder().encode(spec.command), as: UTF8.self)
        var environment = Data()
        for (index, entry) in spec.environment.enumerated() {
            if index > 0 { environment.append(0) }
            environment.append(entry)
        }
        return try write { db in
            try db.execute(
                sql: """
                    INSERT INTO job (command, working_directory, environment, chunk_size, nul_separated, state, created_at)
                    VALUES (?, ?, ?, ?, ?, 'open', ?)
                    """,
                arguments: [command, spec.workingDirectory, environment, spec.chunkSize.storedValue,
                            spec.nulSeparated, now.timeIntervalSince1970])
            return try Self.requireJob(db, JobID(db.lastInsertedRowID))
        }
    }

    public func jobFetch(_ id: JobID) throws -> Job? {
        try read { db in try Self.fetchJob(db, id) }
    }

    public func jobsList(limit: Int) throws -> [Job] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.jobColumns) FROM job ORDER BY id DESC LIMIT ?", arguments: [limit])
                .map(Self.job(from:))
        }
    }

    public func jobsRunnableExist() throws -> Bool {
        try read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM job WHERE state IN ('open', 'sealed'))") ?? false
        }
    }

    public func itemsAppendIfOpen(job id: JobID, firstLine: Int64, items: [Data]) throws {
        guard !items.isEmpty else { return }
        try write { db in
            let job = try Self.requireJob(db, id)
            guard job.state == .open else {
                throw StoreError(.jobState, "job \(id) is \(job.state.rawValue): its input is complete")
            }
            guard job.itemCount + 1 == firstLine else {
                throw StoreError(.itemOrder, "job \(id) has \(job.itemCount) items stored; cannot append from line \(firstLine) (is another submitter writing to it?)")
            }
            let insert = try db.cachedStatement(sql: "INSERT INTO item (job_id, line, data) VALUES (?, ?, ?)")
            for (offset, data) in items.enumerated() {
                try insert.execute(arguments: [id.rawValue, firstLine + Int64(offset), data])
            }
            try db.execute(
                sql: "UPDATE job SET item_count = item_count + ? WHERE id = ?",
                arguments: [items.count, id.rawValue])
        }
    }

    public func itemFetch(job: JobID, line: Int64) throws -> Data? {
        try read { db in
            try Data.fetchOne(db, sql: "SELECT data FROM item WHERE job_id = ? AND line = ?", arguments: [job.rawValue, line])
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
            try db.execute(
                sql: "UPDATE chunk SET state = 'done', owner = NULL, lease_expires_at = NULL WHERE job_id = ? AND state <> 'done'",
                arguments: [id.rawValue])
            return true
        }
    }
}
