import GRDB

extension SQLiteStore {
    /// Append-only: a shipped migration is never edited; changes get a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: jobs, items, chunks, results, daemons") { db in
            try db.execute(sql: """
                CREATE TABLE job (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    command TEXT NOT NULL,
                    working_directory TEXT NOT NULL,
                    environment BLOB NOT NULL,
                    chunk_size INTEGER NOT NULL CHECK (chunk_size >= 0),
                    nul_separated INTEGER NOT NULL CHECK (nul_separated IN (0, 1)),
                    stream INTEGER NOT NULL CHECK (stream IN (0, 1)),
                    retries INTEGER NOT NULL CHECK (retries >= 0),
                    retry_delay REAL NOT NULL CHECK (retry_delay >= 0),
                    timeout_seconds REAL CHECK (timeout_seconds > 0),
                    timeout_percent REAL CHECK (timeout_percent > 0),
                    max_output INTEGER NOT NULL CHECK (max_output >= 0),
                    halt_when TEXT CHECK (halt_when IN ('now', 'soon')),
                    halt_fail_count INTEGER CHECK (halt_fail_count >= 1),
                    halt_fail_percent REAL CHECK (halt_fail_percent > 0 AND halt_fail_percent <= 100),
                    halt_reason TEXT,
                    state TEXT NOT NULL CHECK (state IN ('open', 'sealed', 'complete', 'failed', 'cancelled')),
                    next_sequence INTEGER NOT NULL DEFAULT 1,
                    item_count INTEGER NOT NULL DEFAULT 0 CHECK (item_count >= 0),
                    next_line INTEGER NOT NULL DEFAULT 1 CHECK (next_line BETWEEN 1 AND item_count + 1),
                    finished_count INTEGER NOT NULL DEFAULT 0 CHECK (finished_count BETWEEN 0 AND item_count),
                    failed_count INTEGER NOT NULL DEFAULT 0 CHECK (failed_count BETWEEN 0 AND finished_count),
                    created_at REAL NOT NULL,
                    sealed_at REAL,
                    finished_at REAL,
                    CHECK (state <> 'complete' OR finished_count = item_count),
                    CHECK ((halt_when IS NULL) = (halt_fail_count IS NULL AND halt_fail_percent IS NULL))
                );
                CREATE INDEX job_runnable ON job(id) WHERE state IN ('open', 'sealed');

                CREATE TABLE item (
                    job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
                    line INTEGER NOT NULL CHECK (line >= 1),
                    data BLOB NOT NULL,
                    PRIMARY KEY (job_id, line)
                );

                CREATE TABLE chunk (
                    id INTEGER PRIMARY KEY,
                    job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
                    first_line INTEGER NOT NULL,
                    last_line INTEGER NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('leased', 'released', 'done')),
                    owner TEXT,
                    lease_expires_at REAL,
                    fence INTEGER NOT NULL CHECK (fence >= 1),
                    CHECK (1 <= first_line AND first_line <= last_line),
                    CHECK ((state = 'leased') = (owner IS NOT NULL AND lease_expires_at IS NOT NULL))
                );
                CREATE INDEX chunk_released ON chunk(job_id, first_line) WHERE state = 'released';
                CREATE INDEX chunk_owner ON chunk(owner) WHERE state = 'leased';
                CREATE INDEX chunk_expiry ON chunk(lease_expires_at) WHERE state = 'leased';

                CREATE TABLE result (
                    job_id INTEGER NOT NULL,
                    line INTEGER NOT NULL,
                    sequence INTEGER NOT NULL CHECK (sequence >= 1),
                    status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
                    exit_status INTEGER,
                    signal INTEGER,
                    output BLOB NOT NULL,
                    error_output BLOB NOT NULL,
                    reason TEXT,
                    attempts INTEGER NOT NULL CHECK (attempts >= 1),
                    started_at REAL NOT NULL,
                    finished_at REAL NOT NULL,
                    PRIMARY KEY (job_id, line),
                    UNIQUE (job_id, sequence),
                    FOREIGN KEY (job_id, line) REFERENCES item(job_id, line) ON DELETE CASCADE
                );

                CREATE TABLE daemon (
                    id TEXT PRIMARY KEY,
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    process_start INTEGER NOT NULL,
                    workers INTEGER NOT NULL CHECK (workers >= 1),
                    started_at REAL NOT NULL,
                    heartbeat_at REAL NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2: chunk ids never reused; jobs record their owner and submitter") { db in
            // A chunk id reused after `batch rm` matched a stale lease and a
            // stale verdict of the deleted job's chunk (issue 9): AUTOINCREMENT
            // makes every chunk id new, and the lease guard checks the job and
            // owner too. SQLite cannot add AUTOINCREMENT in place, so the table
            // is copied.
            try db.execute(sql: """
                CREATE TABLE chunk_v2 (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
                    first_line INTEGER NOT NULL,
                    last_line INTEGER NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('leased', 'released', 'done')),
                    owner TEXT,
                    lease_expires_at REAL,
                    fence INTEGER NOT NULL CHECK (fence >= 1),
                    CHECK (1 <= first_line AND first_line <= last_line),
                    CHECK ((state = 'leased') = (owner IS NOT NULL AND lease_expires_at IS NOT NULL))
                );
                INSERT INTO chunk_v2 (id, job_id, first_line, last_line, state, owner, lease_expires_at, fence)
                    SELECT id, job_id, first_line, last_line, state, owner, lease_expires_at, fence FROM chunk;
                DROP TABLE chunk;
                ALTER TABLE chunk_v2 RENAME TO chunk;
                CREATE INDEX chunk_released ON chunk(job_id, first_line) WHERE state = 'released';
                CREATE INDEX chunk_owner ON chunk(owner) WHERE state = 'leased';
                CREATE INDEX chunk_expiry ON chunk(lease_expires_at) WHERE state = 'leased';

                -- The uid that submitted the job: a daemon runs only its own uid's
                -- jobs. NULL for jobs stored before it was recorded: they belong
                -- to the owner of the database file.
                ALTER TABLE job ADD COLUMN owner_uid INTEGER CHECK (owner_uid >= 0);
                -- The process storing the job's input, while the job is open: an
                -- open job whose submitter is gone is "input interrupted".
                ALTER TABLE job ADD COLUMN submitter_host TEXT;
                ALTER TABLE job ADD COLUMN submitter_pid INTEGER;
                ALTER TABLE job ADD COLUMN submitter_start INTEGER;
                """)
            try db.execute(sql: "PRAGMA application_id = \(SQLiteStore.applicationID)")
        }
        migrator.registerMigration("v3: daemons record their uid") { db in
            // A daemon runs only its own uid's jobs; the CLI looks for a daemon of
            // the job owner's uid before it says none serves the job.
            try db.execute(sql: "ALTER TABLE daemon ADD COLUMN uid INTEGER CHECK (uid >= 0)")
        }
        migrator.registerMigration("v4: command and working directory as bytes") { db in
            // Text columns turned bytes that are not UTF-8 into U+FFFD, so the
            // command ran with other arguments or in another folder (issue 19).
            // Arguments are NUL-separated (an argument cannot hold a NUL). NULL
            // for jobs stored before: their text is what they have.
            try db.execute(sql: """
                ALTER TABLE job ADD COLUMN command_bytes BLOB;
                ALTER TABLE job ADD COLUMN working_directory_bytes BLOB;
                """)
        }
        migrator.registerMigration("v5: a job's last warning") { db in
            // What a daemon noticed about a job that the user should see in
            // `status` too, not only in the daemon's log (a stream process that
            // never answers, issue 9).
            try db.execute(sql: """
                ALTER TABLE job ADD COLUMN warning TEXT;
                ALTER TABLE job ADD COLUMN warning_at REAL;
                """)
        }
        migrator.registerMigration("v6: per-job parallelism, groups of items, replacement options") { db in
            // Issue 10. `-j`: at most max_running (or max_running_percent of the
            // registered workers) of the job's chunks are leased at once, one
            // running command each; the claim counts them through
            // chunk_leased_job. `{%}`: each leased chunk has the smallest slot
            // number free among its job's leased chunks. `-n`/`-X`: group_size
            // (0: as many as fit); a result of a group records the group's line
            // range. `-I`: item_token; `--colsep`: column_separator.
            try db.execute(sql: """
                ALTER TABLE job ADD COLUMN max_running INTEGER CHECK (max_running >= 1);
                ALTER TABLE job ADD COLUMN max_running_percent REAL CHECK (max_running_percent > 0);
                ALTER TABLE job ADD COLUMN group_size INTEGER CHECK (group_size >= 0);
                ALTER TABLE job ADD COLUMN item_token BLOB;
                ALTER TABLE job ADD COLUMN column_separator TEXT;
                ALTER TABLE chunk ADD COLUMN slot INTEGER CHECK (slot >= 1);
                ALTER TABLE result ADD COLUMN group_first INTEGER;
                ALTER TABLE result ADD COLUMN group_last INTEGER;
                CREATE INDEX chunk_leased_job ON chunk(job_id) WHERE state = 'leased';
                """)
        }
        migrator.registerMigration("v7: priorities, weights and rate limits") { db in
            // Issue 11. Claims follow `FairShare`: priority first, then fair
            // share by running commands per weight. rate_next_at is the rate
            // limit's next allowed start (GCRA), moved on by each claim.
            try db.execute(sql: """
                ALTER TABLE job ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE job ADD COLUMN weight REAL NOT NULL DEFAULT 1 CHECK (weight > 0);
                ALTER TABLE job ADD COLUMN rate_per_second REAL CHECK (rate_per_second > 0);
                ALTER TABLE job ADD COLUMN rate_next_at REAL;
                """)
        }
        migrator.registerMigration("v8: where a pid means something") { db in
            // Issue 12: liveness by pid only between processes of one kernel
            // boot and pid namespace (`Machine`), not of one hostname: two
            // containers sharing a hostname declared each other's daemons dead.
            try db.execute(sql: """
                ALTER TABLE daemon ADD COLUMN machine TEXT;
                ALTER TABLE job ADD COLUMN submitter_machine TEXT;
                """)
        }
        migrator.registerMigration("v9: daemons record their release") { db in
            // Issue 17: a CLI talking to a daemon of another release says so.
            try db.execute(sql: "ALTER TABLE daemon ADD COLUMN version TEXT")
        }
        migrator.registerMigration("v10: items and results stored in their key's order") { db in
            // Issue 18. Items and results were rowid tables with their key
            // (job, line) in a separate index: each insert wrote two b-trees
            // (a result three, with its completion order) and each read by
            // line looked up the index and then the table. Stored in the
            // key's order (WITHOUT ROWID), a row is one b-tree entry: the raw
            // bound of this cycle (benchmarks/raw_bound.c) went from 3.3 to
            // 2.6 s for a million items, stream mode 8-10% faster. The rows
            // are copied once, in key order (foreign keys are off during a
            // migration, so dropping the old tables cascades nowhere; they are
            // checked before the migration commits).
            try db.execute(sql: """
                CREATE TABLE item_v10 (
                    job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
                    line INTEGER NOT NULL CHECK (line >= 1),
                    data BLOB NOT NULL,
                    PRIMARY KEY (job_id, line)
                ) WITHOUT ROWID;
                INSERT INTO item_v10 (job_id, line, data) SELECT job_id, line, data FROM item ORDER BY job_id, line;

                CREATE TABLE result_v10 (
                    job_id INTEGER NOT NULL,
                    line INTEGER NOT NULL,
                    sequence INTEGER NOT NULL CHECK (sequence >= 1),
                    status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
                    exit_status INTEGER,
                    signal INTEGER,
                    output BLOB NOT NULL,
                    error_output BLOB NOT NULL,
                    reason TEXT,
                    attempts INTEGER NOT NULL CHECK (attempts >= 1),
                    started_at REAL NOT NULL,
                    finished_at REAL NOT NULL,
                    group_first INTEGER,
                    group_last INTEGER,
                    PRIMARY KEY (job_id, line),
                    UNIQUE (job_id, sequence),
                    FOREIGN KEY (job_id, line) REFERENCES item(job_id, line) ON DELETE CASCADE
                ) WITHOUT ROWID;
                INSERT INTO result_v10 (job_id, line, sequence, status, exit_status, signal, output, error_output, reason,
                                        attempts, started_at, finished_at, group_first, group_last)
                    SELECT job_id, line, sequence, status, exit_status, signal, output, error_output, reason,
                           attempts, started_at, finished_at, group_first, group_last
                    FROM result ORDER BY job_id, line;

                DROP TABLE result;
                DROP TABLE item;
                ALTER TABLE item_v10 RENAME TO item;
                ALTER TABLE result_v10 RENAME TO result;
                """)
        }
        migrator.registerMigration("v11: items and results keyed by one integer; completion order as runs") { db in
            // Issue 18. Four per-row costs of the stream path go, each measured
            // in a C model of the cycle (a million items, benchmarks/raw_bound.c
            // with each schema): an item's foreign key to its job (a seek into
            // `job` per item the submitter inserts), a result's to its item (a
            // seek into `item` per result the daemon records), the unique index
            // on a result's completion sequence (a second b-tree entry per
            // result), and the two-column key (record compares down the tree
            // for every insert and read). 2.08-2.14 s with all four, 1.74-1.75
            // without the keys, 1.35-1.37 without the index as well, 1.05-1.07
            // with the integer key (`ItemKey`). The
            // tables have no generated `job_id` and `line` columns: SQLite's
            // VACUUM (and `batch backup`, VACUUM INTO) fails on a table with
            // virtual columns ("has 2 columns but 4 values were supplied").
            //
            // The keys checked what the store guarantees by itself: items are
            // appended inside the transaction that found their job open, and a
            // result is recorded only for a line of a lease held on its job.
            // What their cascades did (a removed job takes its rows) is a
            // trigger on the job's delete, which costs nothing per row.
            //
            // The completion order is kept in `completion`: one row per run of
            // results recorded together with consecutive lines and consecutive
            // sequences (`CompletionRuns`), so a stream chunk's answers are one
            // row, not one index entry each. A result's `sequence` is still in
            // its row; a run's row finds its results by line, and only those
            // whose sequence matches the run's (a retried line's new result has
            // a new sequence, in a run of its own). The results stored before
            // become runs of one. Rows are copied once, in key order.
            try db.execute(sql: """
                CREATE TABLE item_v11 (
                    key INTEGER PRIMARY KEY CHECK ((key & 4294967295) >= 1),
                    data BLOB NOT NULL
                );
                INSERT INTO item_v11 (key, data) SELECT (job_id << 32) + line, data FROM item ORDER BY job_id, line;

                CREATE TABLE result_v11 (
                    key INTEGER PRIMARY KEY CHECK ((key & 4294967295) >= 1),
                    sequence INTEGER NOT NULL CHECK (sequence >= 1),
                    status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
                    exit_status INTEGER,
                    signal INTEGER,
                    output BLOB NOT NULL,
                    error_output BLOB NOT NULL,
                    reason TEXT,
                    attempts INTEGER NOT NULL CHECK (attempts >= 1),
                    started_at REAL NOT NULL,
                    finished_at REAL NOT NULL,
                    group_first INTEGER,
                    group_last INTEGER
                );
                INSERT INTO result_v11 (key, sequence, status, exit_status, signal, output, error_output, reason,
                                        attempts, started_at, finished_at, group_first, group_last)
                    SELECT (job_id << 32) + line, sequence, status, exit_status, signal, output, error_output, reason,
                           attempts, started_at, finished_at, group_first, group_last
                    FROM result ORDER BY job_id, line;

                CREATE TABLE completion (
                    job_id INTEGER NOT NULL,
                    first_sequence INTEGER NOT NULL CHECK (first_sequence >= 1),
                    first_line INTEGER NOT NULL CHECK (first_line >= 1),
                    last_line INTEGER NOT NULL CHECK (last_line >= first_line),
                    PRIMARY KEY (job_id, first_sequence)
                ) WITHOUT ROWID;
                INSERT INTO completion (job_id, first_sequence, first_line, last_line)
                    SELECT job_id, sequence, line, line FROM result ORDER BY job_id, sequence;

                DROP TABLE result;
                DROP TABLE item;
                ALTER TABLE item_v11 RENAME TO item;
                ALTER TABLE result_v11 RENAME TO result;

                CREATE TRIGGER job_removed_with_its_rows AFTER DELETE ON job
                BEGIN
                    DELETE FROM completion WHERE job_id = old.id;
                    DELETE FROM result WHERE key BETWEEN old.id << 32 AND (old.id << 32) + 4294967295;
                    DELETE FROM item WHERE key BETWEEN old.id << 32 AND (old.id << 32) + 4294967295;
                END;
                """)
        }
        migrator.registerMigration("v12: results as lean rows") { db in
            // Issue 18. Recording results is the daemon's critical path in
            // stream mode (its committer thread was busy for 1.0 s of a 1.4 s
            // million-item job), and the row itself was most of it. In a C
            // model of the record step (a million results, the real binds),
            // v11's row took 1.00-1.09 s against 0.63-0.65 for the raw bound's
            // four columns: its four CHECKs 0.08, the status as the text
            // 'succeeded' (bound, checked against a list and stored: 9 bytes
            // a row) 0.05-0.1, binding and storing seven columns that are
            // NULL, 1 or empty for nearly every result another 0.07. Without
            // them (an integer `failed`, no CHECKs, the rare columns left out
            // of the common insert so their defaults are stored) 0.81.
            //
            // The CHECKs guarded what the store writes from typed values (a
            // line of a held lease, a status from an enum, attempts counted
            // from 1), as v11's foreign keys did. The columns keep their names
            // and meaning but `status`, now `failed` (0 or 1). Rows are copied
            // once, in key order; the trigger that removes a job's rows is
            // made again after the rename (SQLite re-checks every trigger's
            // tables when one is renamed).
            try db.execute(sql: """
                CREATE TABLE result_v12 (
                    key INTEGER PRIMARY KEY,
                    sequence INTEGER NOT NULL,
                    failed INTEGER NOT NULL,
                    exit_status INTEGER,
                    output BLOB NOT NULL,
                    started_at REAL NOT NULL,
                    finished_at REAL NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 1,
                    signal INTEGER,
                    error_output BLOB NOT NULL DEFAULT x'',
                    reason TEXT,
                    group_first INTEGER,
                    group_last INTEGER
                );
                INSERT INTO result_v12 (key, sequence, failed, exit_status, output, started_at, finished_at, attempts,
                                        signal, error_output, reason, group_first, group_last)
                    SELECT key, sequence, status = 'failed', exit_status, output, started_at, finished_at, attempts,
                           signal, error_output, reason, group_first, group_last
                    FROM result ORDER BY key;

                DROP TRIGGER job_removed_with_its_rows;
                DROP TABLE result;
                ALTER TABLE result_v12 RENAME TO result;
                CREATE TRIGGER job_removed_with_its_rows AFTER DELETE ON job
                BEGIN
                    DELETE FROM completion WHERE job_id = old.id;
                    DELETE FROM result WHERE key BETWEEN old.id << 32 AND (old.id << 32) + 4294967295;
                    DELETE FROM item WHERE key BETWEEN old.id << 32 AND (old.id << 32) + 4294967295;
                END;
                """)
        }
        return migrator
    }

    /// `PRAGMA application_id` of a batch database ("btch"): how a file is
    /// recognised as batch's before anything is written to it.
    static let applicationID: Int32 = 0x6274_6368
}
