/* What the C bounds (raw_bound.c, lean_bound.c) share: a monotonic clock in
 * seconds, and a check that stops at SQLite's first error. */
#ifndef BATCH_BENCH_BOUND_H
#define BATCH_BENCH_BOUND_H
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}
#endif
