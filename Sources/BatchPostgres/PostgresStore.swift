import BatchStore
import Foundation
import Synchronization

/// The PostgreSQL backend: `--db postgres://…` (or key=value pairs). It
/// passes the store conformance suite, wakes its waiters by LISTEN/NOTIFY,
/// and keeps submitters apart by row-level security (`PostgresSchema`'s v3).
///
/// One connection, its calls serialised: a daemon's calls already come one
/// at a time from threads of their own (`offloaded`).
public final class PostgresStore: BatchStore {
    private let connection: Mutex<PostgresConnection>
    /// How the store is shown: the URL without its password.
    public let displayName: String
    let conninfo: String
    /// A second connection, only for `storageVersion`: it must not wait
    /// behind a long call on the main one.
    private let versionConnection = Mutex<PostgresConnection?>(nil)
    /// A third, only for `storageProbeWrite`: a readiness probe must not
    /// wait behind the daemon's own calls either.
    let probeConnection = Mutex<PostgresConnection?>(nil)

    public var location: StoreLocation { .postgres(conninfo) }
    /// Jobs on a server belong to database roles, not uids (row-level
    /// security decides who may read and run them): to the uid checks of the
    /// CLI, the store is this user's.
    public var legacyOwner: UInt32 { getuid() }

    /// Connects (`conninfo` in any form libpq takes: a URL, key=value
    /// pairs, with `PG*` variables and `~/.pgpass` applied) and brings the
    /// schema up to date.
    public init(conninfo: String) throws {
        let connection = try PostgresConnection(conninfo: conninfo)
        self.conninfo = conninfo
        displayName = connection.displayName
        try Self.migrate(connection)
        self.connection = Mutex(connection)
    }

    @discardableResult
    func run<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try connection.withLock { try body($0) }
    }

    public func close() {
        connection.withLock { $0.close() }
        versionConnection.withLock { $0?.close() }
        probeConnection.withLock { $0?.close() }
    }

    // MARK: - Storage

    /// The server reclaims space itself (autovacuum).
    public func storageCompact() throws -> Bool { true }

    /// No write-ahead log of the client's to give back.
    public func storageTruncateLog() throws {}

    /// Changes whenever a job, chunk or result is written: the jobs'
    /// counters and states and the newest chunk, summed over the jobs (one
    /// small query on a second connection). `nil` when the server does not
    /// answer.
    public func storageVersion() -> StorageVersion? {
        versionConnection.withLock { connection -> StorageVersion? in
            do {
                if connection == nil { connection = try PostgresConnection(conninfo: conninfo) }
                let rows = try connection!.execute("""
                    SELECT coalesce(sum(next_sequence + item_count + next_line), 0)::bigint, count(*),
                           coalesce(max(id), 0), (SELECT coalesce(max(id), 0) FROM chunk),
                           (SELECT count(*) FROM chunk WHERE state = 'leased'),
                           coalesce(sum(hashtext(state)), 0)::bigint
                    FROM job
                    """)
                return StorageVersion((0..<6).map { rows.int(0, $0) ?? 0 })
            } catch {
                return nil
            }
        }
    }

    /// Waits for a notification on `batch_changes` (sent by the schema's
    /// triggers when a job or a chunk's state changes), then compares the
    /// version: an idle follower or daemon makes one query per wake-up, and
    /// one per `timeout` when nothing happens.
    public func storageWaitForChange(from version: StorageVersion, timeout: TimeInterval) {
        let deadline = Date().addingTimeInterval(max(0, timeout))
        let listening = versionConnection.withLock { connection -> Bool in
            do {
                if connection == nil { connection = try PostgresConnection(conninfo: conninfo) }
                try connection!.listen("batch_changes")
                return true
            } catch {
                return false
            }
        }
        while Date() < deadline {
            _ = versionConnection.withLock { $0?.drainNotifications() }
            // A commit before this query is in its answer; one after sends a
            // notification, read during the query or waited for below.
            guard storageVersion() == version else { return }
            if versionConnection.withLock({ $0?.drainNotifications() ?? 0 }) > 0 { continue }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return }
            if listening {
                // Waiting on the socket holds no lock: `storageVersion` may run meanwhile.
                let waiter = versionConnection.withLock { $0 }
                _ = waiter?.waitForInput(timeout: left)
            } else {
                usleep(50_000)
            }
        }
    }

    /// 12 ms: a commit is several round trips and two statements of
    /// inserted rows; larger groups made a 200,000-item stream job about 6%
    /// faster than 4 ms did (25 ms gained little more and doubles the
    /// follow delay it adds).
    public var groupCommitLinger: Duration { .milliseconds(12) }

    /// A server does not move away under its clients.
    public func storageStillAtLocation() -> Bool { true }

    // MARK: - Schema

    /// Applies the migrations not yet applied, in one transaction under an
    /// advisory lock: several daemons starting at once on a new database
    /// migrate it once, the others wait and find it done.
    static func migrate(_ connection: PostgresConnection) throws {
        // Up to date: nothing to lock or create. A submitter's or reader's
        // role may read the migrations but not change the schema.
        if try connection.execute("SELECT to_regclass('batch_migration') IS NOT NULL").bool(0, 0) == true {
            let applied = try connection.execute("SELECT name FROM batch_migration")
            let done = Set((0..<applied.count).compactMap { applied.string($0, 0) })
            if PostgresSchema.migrations.allSatisfy({ done.contains($0.name) }), done.count == PostgresSchema.migrations.count {
                return
            }
        }
        try connection.transaction {
            try connection.execute("SELECT pg_advisory_xact_lock($1)", [.int(PostgresSchema.migrationLock)])
            try connection.executeScript("""
                CREATE TABLE IF NOT EXISTS batch_migration (
                    name text PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
            let applied = try connection.execute("SELECT name FROM batch_migration")
            let done = Set((0..<applied.count).compactMap { applied.string($0, 0) })
            let known = Set(PostgresSchema.migrations.map(\.name))
            if let newer = done.subtracting(known).sorted().first {
                // Written by a newer release: nothing is changed.
                throw StoreError(
                    .cannotOpen, "the database was migrated by a newer release of batch (\(newer)); this release, \(BatchVersion.number), knows schemas up to \(PostgresSchema.migrations.last?.name ?? ""): use the newer release; nothing was changed")
            }
            for migration in PostgresSchema.migrations where !done.contains(migration.name) {
                try connection.executeScript(migration.sql)
                try connection.execute("INSERT INTO batch_migration (name) VALUES ($1)", [.text(migration.name)])
            }
        }
    }

    /// The migrations applied, oldest first.
    public func appliedMigrations() throws -> [String] {
        try run { connection in
            let result = try connection.execute("SELECT name FROM batch_migration ORDER BY applied_at, name")
            return (0..<result.count).compactMap { result.string($0, 0) }
        }
    }

    // MARK: - Time

    /// The server's clock: leases and heartbeats of daemons on several hosts
    /// are written and compared on one clock.
    public func storageClock() throws -> Date {
        try run { connection in
            let result = try connection.execute("SELECT extract(epoch FROM clock_timestamp())::float8")
            guard let seconds = result.double(0, 0) else { throw StoreError(.storage, "\(displayName): no clock") }
            return Date(timeIntervalSince1970: seconds)
        }
    }

    // MARK: - Daemons

    public func daemonRegister(_ daemon: DaemonRecord) throws {
        try run { connection in
            try connection.execute("""
                INSERT INTO daemon (id, host, pid, process_start, workers, started_at, heartbeat_at, machine, version)
                VALUES ($1, $2, $3, $4, $5, to_timestamp($6), to_timestamp($8), $7, $9)
                ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                    process_start = excluded.process_start, workers = excluded.workers,
                    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, machine = excluded.machine,
                    version = excluded.version
                """,
                [.text(daemon.id), .text(daemon.host), .int(Int64(daemon.pid)), .int(daemon.processStart),
                 .int(daemon.workers), .double(daemon.startedAt.timeIntervalSince1970), .string(daemon.machineID),
                 .double(daemon.heartbeatAt.timeIntervalSince1970), .string(daemon.version)])
        }
    }

    /// Beats at `now`: a daemon passes `storageClock()`, the server's
    /// clock, so daemons of several hosts are judged on one clock (a test
    /// may inject its own).
    public func daemonHeartbeat(id: String, now: Date) throws -> Bool {
        try run { connection in
            try connection.execute(
                "UPDATE daemon SET heartbeat_at = to_timestamp($1) WHERE id = $2", [.double(now.timeIntervalSince1970), .text(id)]
            ).changed > 0
        }
    }

    public func daemonsList() throws -> [DaemonRecord] {
        try run { connection in
            let rows = try connection.execute("""
                SELECT id, host, pid, process_start, workers, extract(epoch FROM started_at)::float8,
                       extract(epoch FROM heartbeat_at)::float8, machine, version
                FROM daemon ORDER BY started_at, id
                """)
            return (0..<rows.count).map { row in
                DaemonRecord(
                    id: rows.string(row, 0) ?? "", host: rows.string(row, 1) ?? "", pid: Int32(rows.int(row, 2) ?? 0),
                    processStart: rows.int(row, 3) ?? 0, workers: Int(rows.int(row, 4) ?? 1),
                    startedAt: Date(timeIntervalSince1970: rows.double(row, 5) ?? 0),
                    heartbeatAt: Date(timeIntervalSince1970: rows.double(row, 6) ?? 0),
                    uid: nil, machineID: rows.string(row, 7), version: rows.string(row, 8))
            }
        }
    }

    /// Removes a daemon's record and hands back its chunks, in one transaction.
    public func daemonDeleteReleasingChunks(id: String) throws -> Int {
        try run { connection in
            try connection.transaction {
                try connection.execute("DELETE FROM daemon WHERE id = $1", [.text(id)])
                return try connection.execute("""
                    UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL
                    WHERE owner = $1 AND state = 'leased'
                    """, [.text(id)]).changed
            }
        }
    }
}
