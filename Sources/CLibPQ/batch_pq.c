#include "batch_pq.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = -1;
static char error[256] = "libpq was not loaded";

#define SYMBOLS(X) \
    X(PQconnectdb) X(PQconnectdbParams) X(PQstatus) X(PQfinish) X(PQreset) X(PQerrorMessage) X(PQexec) X(PQexecParams) \
    X(PQprepare) X(PQexecPrepared) \
    X(PQresultStatus) X(PQresultErrorField) X(PQresultErrorMessage) X(PQclear) X(PQntuples) X(PQcmdTuples) \
    X(PQgetisnull) X(PQgetvalue) X(PQgetlength) X(PQconninfoParse) X(PQconninfoFree) X(PQfreemem) \
    X(PQconsumeInput) X(PQnotifies) X(PQsocket)

#define POINTER(name) static __typeof__(&name) p_##name;
SYMBOLS(POINTER)

static void load(void) {
    void *library = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(error, sizeof error, "cannot load libpq, PostgreSQL's client library (apt-get install libpq5): %s", dlerror());
        return;
    }
#define RESOLVE(name) \
    p_##name = (__typeof__(&name))dlsym(library, #name); \
    if (!p_##name) { snprintf(error, sizeof error, "libpq has no %s", #name); return; }
    SYMBOLS(RESOLVE)
    loaded = 0;
}

int batch_pq_load(void) {
    pthread_once(&once, load);
    return loaded;
}

const char *batch_pq_error(void) { return error; }

PGconn *batch_PQconnectdb(const char *conninfo) { return p_PQconnectdb(conninfo); }

PGconn *batch_pq_connect(const char *conninfo, const char *application) {
    // Keywords are applied in order and the expanded connection string comes
    // last, so anything it names wins over these defaults. Over TCP, a dead
    // link must end a call within seconds (keepalives for a call waiting on
    // an answer, tcp_user_timeout for one whose data is not acknowledged),
    // not after the kernel's 15 minutes: a cut-off daemon must see errors to
    // fence itself, and find the server again once the link heals.
    const char *keys[10], *values[10];
    int n = 0;
    if (!getenv("PGCONNECT_TIMEOUT")) { keys[n] = "connect_timeout"; values[n++] = "10"; }
    keys[n] = "keepalives_idle"; values[n++] = "5";
    keys[n] = "keepalives_interval"; values[n++] = "2";
    keys[n] = "keepalives_count"; values[n++] = "3";
    keys[n] = "tcp_user_timeout"; values[n++] = "10000";
    // Shown in pg_stat_activity unless the string or PGAPPNAME names another.
    keys[n] = "fallback_application_name"; values[n++] = application;
    keys[n] = "dbname"; values[n++] = conninfo;
    keys[n] = NULL; values[n] = NULL;
    return p_PQconnectdbParams(keys, values, 1);
}
ConnStatusType batch_PQstatus(const PGconn *conn) { return p_PQstatus(conn); }
void batch_PQfinish(PGconn *conn) { p_PQfinish(conn); }
void batch_PQreset(PGconn *conn) { p_PQreset(conn); }
char *batch_PQerrorMessage(const PGconn *conn) { return p_PQerrorMessage(conn); }
PGresult *batch_PQexec(PGconn *conn, const char *query) { return p_PQexec(conn, query); }
PGresult *batch_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                             const char *const *paramValues, const int *paramLengths, const int *paramFormats,
                             int resultFormat) {
    return p_PQexecParams(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat);
}
PGresult *batch_PQprepare(PGconn *conn, const char *name, const char *query, int nParams, const Oid *paramTypes) {
    return p_PQprepare(conn, name, query, nParams, paramTypes);
}
PGresult *batch_PQexecPrepared(PGconn *conn, const char *name, int nParams, const char *const *paramValues,
                               const int *paramLengths, const int *paramFormats, int resultFormat) {
    return p_PQexecPrepared(conn, name, nParams, paramValues, paramLengths, paramFormats, resultFormat);
}
ExecStatusType batch_PQresultStatus(const PGresult *res) { return p_PQresultStatus(res); }
char *batch_PQresultErrorField(const PGresult *res, int fieldcode) { return p_PQresultErrorField(res, fieldcode); }
char *batch_PQresultErrorMessage(const PGresult *res) { return p_PQresultErrorMessage(res); }
void batch_PQclear(PGresult *res) { p_PQclear(res); }
int batch_PQntuples(const PGresult *res) { return p_PQntuples(res); }
char *batch_PQcmdTuples(PGresult *res) { return p_PQcmdTuples(res); }
int batch_PQgetisnull(const PGresult *res, int tup_num, int field_num) { return p_PQgetisnull(res, tup_num, field_num); }
char *batch_PQgetvalue(const PGresult *res, int tup_num, int field_num) { return p_PQgetvalue(res, tup_num, field_num); }
int batch_PQgetlength(const PGresult *res, int tup_num, int field_num) { return p_PQgetlength(res, tup_num, field_num); }
PQconninfoOption *batch_PQconninfoParse(const char *conninfo, char **errmsg) { return p_PQconninfoParse(conninfo, errmsg); }
void batch_PQconninfoFree(PQconninfoOption *connOptions) { p_PQconninfoFree(connOptions); }
void batch_PQfreemem(void *ptr) { p_PQfreemem(ptr); }
int batch_PQconsumeInput(PGconn *conn) { return p_PQconsumeInput(conn); }
PGnotify *batch_PQnotifies(PGconn *conn) { return p_PQnotifies(conn); }
int batch_PQsocket(const PGconn *conn) { return p_PQsocket(conn); }
