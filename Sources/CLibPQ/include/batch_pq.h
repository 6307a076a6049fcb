// libpq, loaded when a PostgreSQL store is first opened (dlopen), not when
// batch or batchd starts: linked, its libraries (OpenSSL, Kerberos, LDAP)
// cost every process about 6 MiB, SQLite users included. The types come
// from libpq's header; each function is a wrapper that calls libpq's.
#ifndef BATCH_PQ_H
#define BATCH_PQ_H

#include <postgresql/libpq-fe.h>

/// Loads libpq (libpq.so.5) and its symbols once. 0 when done; else -1, and
/// `batch_pq_error()` says why.
int batch_pq_load(void);
const char *batch_pq_error(void);

PGconn *batch_PQconnectdb(const char *conninfo);
/// Connects with `conninfo` (any form libpq takes) over defaults that end a
/// call on a dead TCP link within seconds, named `application` in
/// pg_stat_activity; the string's own keywords win.
PGconn *batch_pq_connect(const char *conninfo, const char *application);
ConnStatusType batch_PQstatus(const PGconn *conn);
void batch_PQfinish(PGconn *conn);
void batch_PQreset(PGconn *conn);
char *batch_PQerrorMessage(const PGconn *conn);
PGresult *batch_PQexec(PGconn *conn, const char *query);
PGresult *batch_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                             const char *const *paramValues, const int *paramLengths, const int *paramFormats,
                             int resultFormat);
PGresult *batch_PQprepare(PGconn *conn, const char *name, const char *query, int nParams, const Oid *paramTypes);
PGresult *batch_PQexecPrepared(PGconn *conn, const char *name, int nParams, const char *const *paramValues,
                               const int *paramLengths, const int *paramFormats, int resultFormat);
ExecStatusType batch_PQresultStatus(const PGresult *res);
char *batch_PQresultErrorField(const PGresult *res, int fieldcode);
char *batch_PQresultErrorMessage(const PGresult *res);
void batch_PQclear(PGresult *res);
int batch_PQntuples(const PGresult *res);
char *batch_PQcmdTuples(PGresult *res);
int batch_PQgetisnull(const PGresult *res, int tup_num, int field_num);
char *batch_PQgetvalue(const PGresult *res, int tup_num, int field_num);
int batch_PQgetlength(const PGresult *res, int tup_num, int field_num);
PQconninfoOption *batch_PQconninfoParse(const char *conninfo, char **errmsg);
void batch_PQconninfoFree(PQconninfoOption *connOptions);
void batch_PQfreemem(void *ptr);
int batch_PQconsumeInput(PGconn *conn);
PGnotify *batch_PQnotifies(PGconn *conn);
int batch_PQsocket(const PGconn *conn);

#endif
