// SQLite's process-wide settings, which only sqlite3_config (a C variadic
// function, which Swift cannot call) changes, before SQLite initializes.
#ifndef BATCH_SQLITE_H
#define BATCH_SQLITE_H

/// Turns off SQLite's memory statistics (SQLITE_CONFIG_MEMSTATUS): with them
/// on, every allocation and free of every connection in the process takes
/// one global mutex. Returns SQLite's result code: SQLITE_MISUSE (21) when
/// SQLite was already initialized in this process, and nothing changed.
int batch_sqlite_disable_memory_statistics(void);

#endif
