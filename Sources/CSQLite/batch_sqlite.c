#include "batch_sqlite.h"

#include <sqlite3.h>

int batch_sqlite_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
