/*
 * The raw bound for batch's store cycle: the same schema shape and the same
 * insert / claim / record work, written directly against SQLite's C API in one
 * process with no work per item. batch's end-to-end throughput is reported as
 * a ratio to this. As batch's schema from its v11: items and results keyed
 * by one integer (the job in the high bits, the line in the low 32) in rowid
 * tables, no foreign keys, and the completion order a row per run of results
 * recorded together (here a chunk's, one transaction).
 *
 *   cc -O2 raw_bound.c -lsqlite3 -o raw_bound && ./raw_bound 1000000 /tmp/raw.db
 */

#include "bound.h"

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *path = argc > 2 ? argv[2] : "/tmp/raw_bound.db";
    const int chunk = 1000;
    remove(path);
    sqlite3 *db;
    check(sqlite3_open(path, &db), db, "open");
    check(sqlite3_exec(db,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE item (key INTEGER PRIMARY KEY, data BLOB NOT NULL);"
        "CREATE TABLE chunk (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, first_line INTEGER NOT NULL,"
        "  last_line INTEGER NOT NULL, state TEXT NOT NULL, owner TEXT, lease_expires_at REAL, fence INTEGER NOT NULL);"
        "CREATE TABLE result (key INTEGER PRIMARY KEY, sequence INTEGER NOT NULL, status TEXT NOT NULL, output BLOB NOT NULL);"
        "CREATE TABLE completion (job_id INTEGER NOT NULL, first_sequence INTEGER NOT NULL, first_line INTEGER NOT NULL,"
        "  last_line INTEGER NOT NULL, PRIMARY KEY (job_id, first_sequence)) WITHOUT ROWID;",
        NULL, NULL, NULL), db, "schema");

    sqlite3_stmt *insert, *claim, *read, *record, *run, *done;
    check(sqlite3_prepare_v2(db, "INSERT INTO item (key, data) VALUES ((1 << 32) + ?, ?)", -1, &insert, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "INSERT INTO chunk (job_id, first_line, last_line, state, owner, lease_expires_at, fence) VALUES (1, ?, ?, 'leased', 'd', 0, 1)", -1, &claim, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "SELECT key & 4294967295, data FROM item WHERE key BETWEEN (1 << 32) + ? AND (1 << 32) + ?", -1, &read, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "INSERT INTO result (key, sequence, status, output) VALUES ((1 << 32) + ?, ?, 'succeeded', ?)", -1, &record, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "INSERT INTO completion (job_id, first_sequence, first_line, last_line) VALUES (1, ?, ?, ?)", -1, &run, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "UPDATE chunk SET state = 'done', owner = NULL WHERE id = ?", -1, &done, NULL), db, "prepare");

    double t0 = now();
    char text[32];
    for (long start = 1; start <= n; start += chunk) {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (long line = start; line < start + chunk && line <= n; line++) {
            int len = snprintf(text, sizeof text, "%ld", line);
            sqlite3_bind_int64(insert, 1, line);
            sqlite3_bind_blob(insert, 2, text, len, SQLITE_STATIC);
            check(sqlite3_step(insert), db, "insert");
            sqlite3_reset(insert);
        }
        check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
    }
    double t1 = now();
    long sequence = 0;
    for (long start = 1; start <= n; start += chunk) {
        long last = start + chunk - 1 < n ? start + chunk - 1 : n;
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_bind_int64(claim, 1, start);
        sqlite3_bind_int64(claim, 2, last);
        check(sqlite3_step(claim), db, "claim");
        sqlite3_reset(claim);
        long chunk_id = sqlite3_last_insert_rowid(db);
        check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_bind_int64(read, 1, start);
        sqlite3_bind_int64(read, 2, last);
        while (sqlite3_step(read) == SQLITE_ROW) {
            sqlite3_bind_int64(record, 1, sqlite3_column_int64(read, 0));
            sqlite3_bind_int64(record, 2, ++sequence);
            sqlite3_bind_blob(record, 3, sqlite3_column_blob(read, 1), sqlite3_column_bytes(read, 1), SQLITE_TRANSIENT);
            check(sqlite3_step(record), db, "record");
            sqlite3_reset(record);
        }
        sqlite3_reset(read);
        sqlite3_bind_int64(run, 1, sequence - (last - start));
        sqlite3_bind_int64(run, 2, start);
        sqlite3_bind_int64(run, 3, last);
        check(sqlite3_step(run), db, "run");
        sqlite3_reset(run);
        sqlite3_bind_int64(done, 1, chunk_id);
        check(sqlite3_step(done), db, "done");
        sqlite3_reset(done);
        check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
    }
    double t2 = now();
    printf("%ld %.3f %.3f\n", n, t1 - t0, t2 - t1);
    sqlite3_close(db);
    remove(path);
    return 0;
}
