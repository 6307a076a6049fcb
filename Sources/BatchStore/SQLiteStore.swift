import CSQLite
import Foundation
import GRDB
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite backend of `BatchStore`: one database file that several
/// processes (submitters, daemons, followers) open at once.
///
/// Guarantees:
/// - The file is in WAL mode with `synchronous = NORMAL`, and every writer
///   waits up to `busyTimeout` for the write lock instead of failing at once.
/// - A write that returned has been committed to the WAL: it survives a crash
///   of any process (SIGKILL included). After a power loss or an OS crash the
///   last transactions before the loss may be rolled back, never half-applied;
///   a rolled-back result is then simply run again, since its item is still
///   pending. Pass `durable: true` (`synchronous = FULL`) to trade speed for
///   surviving power loss too.
/// - A file that is not a batch database is refused and left untouched.
/// - A new database file is created readable and writable by its owner only.
///
/// Schema for speed (see docs/schema.md): item rows are written once and never
/// updated; a claim leases a contiguous range (one chunk row, not one row per
/// item); each result is an append to the result table.
public final class SQLiteStore: BatchStore {
    let pool: DatabasePool
    public let path: String
    /// The file opened (device and inode): the daemon stops when its path
    /// names another file (the database was moved or deleted under it).
    let fileIdentity: (device: UInt64, inode: UInt64)?
    /// The uid owning the database file: jobs stored before their submitter's
    /// uid was recorded belong to it.
    public let fileOwner: uid_t
    /// The connection `storageVersion()` asks, opened when first needed.
    private let versionReader = Mutex<DatabaseQueue?>(nil)
    /// The connection `storageProbeWrite` tries the write lock with, opened
    /// when first needed: its own busy timeout, and never the pool's writer,
    /// which a probe must not hold up.
    let probeWriter = Mutex<DatabaseQueue?>(nil)
    /// inotify descriptors watching the database's folder, idle between
    /// waits (`storageWaitForChange`).
    let changeWatches = ChangeWatchPool()

    /// SQLite's process-wide settings, made once before the process's first
    /// connection opens (SQLite refuses them later). Memory statistics off:
    /// with them on, every allocation and free of every connection takes one
    /// global mutex, and in stream mode the committer thread slept on it
    /// (most of its context switches, seen with perf) while the slots'
    /// claims and reads allocated on other threads.
    static let libraryConfigured: Void = {
        _ = batch_sqlite_disable_memory_statistics()
    }()

    /// Opens (creating if needed) the database at `path` and brings its schema
    /// up to date.
    public var location: StoreLocation { .file(path) }
    public var legacyOwner: UInt32 { fileOwner }

    /// A file on this host: this host's clock.
    public func storageClock() throws -> Date { Date() }

    public init(path: String, busyTimeout: TimeInterval = 30, durable: Bool = false) throws {
        _ = Self.libraryConfigured
        self.path = path
        try Self.prepareFile(at: path)
        var config = Configuration()
        config.busyMode = BusyWait.mode(patience: busyTimeout)
        config.label = "batch"
        let synchronous = durable ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            // Checkpoints every 10,000 pages (about 40 MB of WAL) rather than
            // 1,000: the pages every commit touches (the job row, index
            // interiors) are copied back a tenth as often. A million items
            // through `--stream` took 7% less time (measured).
            // And the WAL file is cut back to 16 MB after each checkpoint, so a
            // long job does not leave a WAL of hundreds of MB behind.
            try db.execute(sql: "PRAGMA synchronous = \(synchronous); PRAGMA wal_autocheckpoint = 10000; PRAGMA journal_size_limit = 16777216")
        }
        pool = try Self.openPool(path: path, configuration: config, patience: busyTimeout)
        var info = stat()
        if stat(path, &info) == 0 {
            fileIdentity = (UInt64(info.st_dev), UInt64(info.st_ino))
            fileOwner = info.st_uid
        } else {
            fileIdentity = nil
            fileOwner = getuid()
        }
    }

    /// `PRAGMA data_version` of a connection of its own: it changes whenever
    /// another connection, of any process, has committed. One small
    /// statement, instead of a follower's two queries. (Never a look at the
    /// `-shm` or `-wal` file by hand: closing any descriptor of a file drops
    /// this process's POSIX locks on it, SQLite's included; a test caught
    /// a submitter losing a thousand items that way.)
    public func storageVersion() -> StorageVersion? {
        versionReader.withLock { reader -> StorageVersion? in
            do {
                if reader == nil {
                    var config = Configuration()
                    config.readonly = true
                    // A read here can meet a lock for a moment (a writer
                    // resetting the WAL); SQLite's own timeout then slept
                    // 1, 2, 5, 10 ms, and a woken daemon or follower looked
                    // 10 ms late (most of a one-item job's latency).
                    config.busyMode = BusyWait.mode(patience: 1)
                    reader = try DatabaseQueue(path: path, configuration: config)
                }
                return try reader.flatMap { queue in
                    try queue.read { db in try Int64.fetchOne(db, sql: "PRAGMA data_version") }
                }.map { StorageVersion([$0]) }
            } catch {
                return nil
            }
        }
    }

    /// Whether `path` still names the file this store opened: false once the
    /// file was deleted, or moved and another put in its place (or none).
    public func storageStillAtLocation() -> Bool {
        guard let fileIdentity else { return true }
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return UInt64(info.st_dev) == fileIdentity.device && UInt64(info.st_ino) == fileIdentity.inode
    }

    /// Opens the pool and migrates the schema. Two processes opening a new
    /// file at once can collide where SQLite reports "busy" without waiting
    /// (switching to WAL, upgrading a read to a write); those are retried, and
    /// the one that loses the race to migrate finds the schema done.
    private static func openPool(path: String, configuration: Configuration, patience: TimeInterval) throws
        -> DatabasePool
    {
        let deadline = Date().addingTimeInterval(patience)
        while true {
            do {
                try refuseForeignDatabase(at: path)
                let pool = try DatabasePool(path: path, configuration: configuration)
                let applied = try pool.read { try migrator.appliedIdentifiers($0) }
                if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                    throw newerRelease(path, applied.subtracting(migrator.migrations))
                }
                if !Set(migrator.migrations).isSubset(of: applied) {
                    do {
                        try migrator.migrate(pool)
                    } catch where (try? pool.read { try migrator.appliedIdentifiers($0) }) != applied {
                        // Another process migrated the file meanwhile: GRDB reads which
                        // migrations are applied before it takes the write lock, so the
                        // loser of that race tries again from what the winner applied.
                        usleep(UInt32.random(in: 1_000...10_000))
                        continue
                    }
                }
                return pool
            } catch let error as StoreError {
                throw error
            } catch let error as DatabaseError
                where (error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED) && Date() < deadline
            {
                usleep(UInt32.random(in: 5_000...50_000))
            } catch {
                throw storeError(error, path: path)
            }
        }
    }

    /// Creates the file (owner-only) and its folder when missing. Refuses,
    /// before SQLite touches anything, whatever is not a regular file (a
    /// device such as /dev/null, a FIFO, a directory) and a symbolic link that
    /// points nowhere (it would create a file elsewhere).
    private static func prepareFile(at path: String) throws {
        var info = stat()
        if lstat(path, &info) == 0 {
            var target = stat()
            guard stat(path, &target) == 0 else {
                throw StoreError(.cannotOpen, "\(path) is a symbolic link to nothing; refusing to create a database through it")
            }
            if (target.st_mode & S_IFMT) == S_IFDIR {
                throw StoreError(.cannotOpen, "\(path) is a directory, not a database file")
            }
            guard (target.st_mode & S_IFMT) == S_IFREG else {
                throw StoreError(.cannotOpen, "\(path) is not a regular file (a device, FIFO or socket), not a database file; it was left untouched")
            }
            return
        }
        let manager = FileManager.default
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty, !manager.fileExists(atPath: folder) {
            do {
                try manager.createDirectory(
                    atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError(.cannotOpen, "cannot create the folder \(folder) for the database: \(error.localizedDescription)")
            }
        }
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue {
                throw StoreError(.cannotOpen, "\(path) is a directory, not a database file")
            }
            return
        }
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StoreError(.cannotOpen, "cannot create the database \(path): \(String(cString: strerror(errno)))")
        }
        _ = Glibc.close(fd)
    }

    /// Checks that an existing non-empty file is a batch database (or an
    /// SQLite database with nothing in it) before anything is written to it:
    /// read-only, its `application_id` and which migrations it has (a file
    /// that is not SQLite at all fails there, untouched). A batch database
    /// carries batch's `application_id` from schema v2 on; an older one is
    /// recognised by its migrations. Only SQLite opens the file: closing a
    /// descriptor of it opened by hand would drop this process's POSIX locks
    /// on it, those of its other SQLite connections included.
    private static func refuseForeignDatabase(at path: String) throws {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size > 0 else { return }
        var config = Configuration()
        config.readonly = true
        config.busyMode = BusyWait.mode(patience: 5)
        let queue = try DatabaseQueue(path: path, configuration: config)
        let (applicationID, tables, applied) = try queue.read { db in
            let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
            let applied = tables.contains("grdb_migrations")
                ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") : []
            return (applicationID, tables, applied)
        }
        try queue.close()
        // Refused before the pool opens: opening it may write (GRDB makes
        // sure a WAL file exists), and a newer release's file must stay as
        // it is, byte for byte.
        let newer = Set(applied).subtracting(migrator.migrations)
        let batchBeforeApplicationID = applicationID == 0 && !Set(applied).isDisjoint(with: migrator.migrations)
            && tables.contains("job") && tables.contains("chunk")
        if !newer.isEmpty, applicationID == Self.applicationID || batchBeforeApplicationID {
            throw newerRelease(path, newer)
        }
        if applicationID == Self.applicationID { return }
        guard applicationID == 0 else {
            throw StoreError(.notADatabase, "\(path) is an SQLite database of another program (application_id \(applicationID)), not a batch database; it was left untouched")
        }
        // Another batch process creating the file right now: GRDB makes its
        // bookkeeping table before the migration's transaction, so a reader
        // can see it alone (caught by the test that opens one new file six
        // times at once).
        let ours = !applied.isEmpty && Set(applied).isSubset(of: migrator.migrations)
        let beingCreated = tables == ["grdb_migrations"] && Set(applied).isSubset(of: migrator.migrations)
        let batchV1 = ours && tables.contains("job") && tables.contains("chunk")
        if !tables.isEmpty, !beingCreated, !batchV1 {
            throw StoreError(.notADatabase, "\(path) is an SQLite database of another program, not a batch database; it was left untouched")
        }
    }

    /// The refusal of a file whose schema a newer release wrote: it names
    /// both (the newer schema, this release and the last schema it knows).
    private static func newerRelease(_ path: String, _ newer: Set<String>) -> StoreError {
        StoreError(
            .cannotOpen,
            "\(path) was written by a newer release of batch (schema \(newer.sorted().joined(separator: ", "))); this release, \(BatchVersion.number), knows schemas up to \(migrator.migrations.last ?? ""): use the newer release; the file was left untouched")
    }

    /// Maps database errors to the seam's error type.
    static func storeError(_ error: any Error, path: String) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let dbError = error as? DatabaseError else {
            return StoreError(.storage, "database \(path): \(error)")
        }
        let detail = dbError.message ?? "\(dbError.resultCode)"
        switch dbError.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return StoreError(.notADatabase, "\(path) is not a batch database (\(detail)); it was left untouched")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH, .SQLITE_READONLY:
            return StoreError(.cannotOpen, "cannot open the database \(path): \(detail)")
        case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_PROTOCOL, .SQLITE_NOMEM, .SQLITE_INTERRUPT:
            return StoreError(.unavailable, "database \(path): \(detail)")
        case .SQLITE_CONSTRAINT:
            return StoreError(.constraint, "database \(path): a rule of the store was broken: \(detail)")
        default:
            return StoreError(.storage, "database \(path): \(detail)")
        }
    }

    // MARK: - Access helpers

    /// A write transaction that takes the write lock at BEGIN, so that two
    /// processes never both read and then deadlock upgrading to write.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var value: T?
                try db.inTransaction(.immediate) {
                    value = try body(db)
                    return .commit
                }
                return value!
            }
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    /// Copies the WAL back into the database and truncates it to nothing,
    /// if no reader needs it: for an idle daemon, so the WAL does not keep
    /// its largest size for the daemon's lifetime. A WAL of a few pages (an
    /// idle daemon's heartbeats) is left alone: an idle daemon calls this on
    /// every round, and a checkpoint each time would be most of its CPU.
    public func storageTruncateLog() throws {
        var status = stat()
        // `stat`, never open and close: closing a descriptor of the file
        // would drop this process's POSIX locks on it, SQLite's included.
        if stat(path + "-wal", &status) == 0, status.st_size <= 256 << 10 { return }
        do {
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    /// Checkpoints and closes the database.
    public func close() throws {
        do {
            try versionReader.withLock { reader in
                try reader?.close()
                reader = nil
            }
            try probeWriter.withLock { writer in
                try writer?.close()
                writer = nil
            }
            changeWatches.close()
            try pool.close()
        } catch {
            throw Self.storeError(error, path: path)
        }
    }
}
