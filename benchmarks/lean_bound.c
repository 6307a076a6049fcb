/*
 * The lean lifecycle bound (NOTES.md): task rows are written once and never
 * updated, a claim leases a contiguous range of lines (one chunk row, marked
 * done once), and each result is an append to a results table whose key is
 * its completion sequence. Against SQLite's C API, in one process, WAL,
 * synchronous=NORMAL, a transaction per 1,000 items, no work per item: how
 * fast a durable insert / claim / record cycle can go on this machine with
 * the least a store must write. batch's stream mode is reported as a ratio
 * to this (and to raw_bound.c, which models batch's own schema).
 *
 *   cc -O2 lean_bound.c -lsqlite3 -o lean_bound && ./lean_bound 1000000 /tmp/lean.db
 * prints: items insert_seconds cycle_seconds
 */

#include "bound.h"

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *path = argc > 2 ? argv[2] : "/tmp/lean_bound.db";
    const int chunk = 1000;
    remove(path);
    sqlite3 *db;
    check(sqlite3_open(path, &db), db, "open");
    check(sqlite3_exec(db,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE task (line INTEGER PRIMARY KEY, data BLOB NOT NULL);"
        "CREATE TABLE lease (id INTEGER PRIMARY KEY, first_line INTEGER NOT NULL, last_line INTEGER NOT NULL,"
        "  done INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE result (sequence INTEGER PRIMARY KEY, line INTEGER NOT NULL, output BLOB NOT NULL);",
        NULL, NULL, NULL), db, "schema");

    sqlite3_stmt *insert, *claim, *read, *record, *done;
    check(sqlite3_prepare_v2(db, "INSERT INTO task (line, data) VALUES (?, ?)", -1, &insert, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "INSERT INTO lease (first_line, last_line) VALUES (?, ?)", -1, &claim, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "SELECT line, data FROM task WHERE line BETWEEN ? AND ?", -1, &read, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "INSERT INTO result (line, output) VALUES (?, ?)", -1, &record, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "UPDATE lease SET done = 1 WHERE id = ?", -1, &done, NULL), db, "prepare");

    double t0 = now();
    char text[32];
    for (long start = 1; start <= n; start += chunk) {
        check(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), db, "begin");
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
    for (long start = 1; start <= n; start += chunk) {
        long last = start + chunk - 1 < n ? start + chunk - 1 : n;
        check(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), db, "begin");
        sqlite3_bind_int64(claim, 1, start);
        sqlite3_bind_int64(claim, 2, last);
        check(sqlite3_step(claim), db, "claim");
        sqlite3_reset(claim);
        long lease_id = sqlite3_last_insert_rowid(db);
        check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
        check(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), db, "begin");
        sqlite3_bind_int64(read, 1, start);
        sqlite3_bind_int64(read, 2, last);
        while (sqlite3_step(read) == SQLITE_ROW) {
            sqlite3_bind_int64(record, 1, sqlite3_column_int64(read, 0));
            sqlite3_bind_blob(record, 2, sqlite3_column_blob(read, 1), sqlite3_column_bytes(read, 1), SQLITE_TRANSIENT);
            check(sqlite3_step(record), db, "record");
            sqlite3_reset(record);
        }
        sqlite3_reset(read);
        sqlite3_bind_int64(done, 1, lease_id);
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
