#!/usr/bin/env bash
# The raw PostgreSQL bound for batch's cycle, as plain SQL through psql and
# pgbench on the same cluster: append N items (1,000 per transaction), then
# claim 500-item chunks (FOR UPDATE SKIP LOCKED) and record their results
# (one row each, a completion sequence, a fenced chunk update), one
# transaction per claim and one per record, with CLIENTS clients. No process
# runs any item. Prints the seconds the whole cycle took.
#   benchmarks/pg_bound.sh CONNINFO ITEMS CLIENTS
set -euo pipefail
conninfo=$1 items=$2 clients=$3
chunk=500
chunks=$(( (items + chunk - 1) / chunk ))
script=$(mktemp -d)
trap 'rm -rf "$script"' EXIT
psql -q "$conninfo" <<SQL >/dev/null
DROP TABLE IF EXISTS bound_item, bound_chunk, bound_result;
DROP SEQUENCE IF EXISTS bound_sequence, bound_line;
SET client_min_messages = warning;
CREATE TABLE bound_item (line bigint PRIMARY KEY, data bytea NOT NULL);
CREATE TABLE bound_chunk (id bigint PRIMARY KEY, first_line bigint NOT NULL, last_line bigint NOT NULL,
                          state text NOT NULL, owner text, fence integer NOT NULL DEFAULT 1);
CREATE INDEX bound_chunk_pending ON bound_chunk (id) WHERE state = 'pending';
CREATE TABLE bound_result (line bigint PRIMARY KEY, sequence bigint NOT NULL, output bytea NOT NULL,
                           finished_at timestamptz NOT NULL);
CREATE SEQUENCE bound_sequence;
CREATE SEQUENCE bound_line;
SQL
cat >"$script/append.sql" <<'SQL'
INSERT INTO bound_item SELECT line, convert_to(line::text, 'UTF8')
  FROM (SELECT nextval('bound_line') AS line FROM generate_series(1, 1000)) lines;
SQL
cat >"$script/cycle.sql" <<'SQL'
WITH next AS (SELECT id FROM bound_chunk WHERE state = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
UPDATE bound_chunk SET state = 'leased', owner = 'bench' FROM next WHERE bound_chunk.id = next.id
RETURNING bound_chunk.id AS id, first_line, last_line, fence \gset
SELECT data FROM bound_item WHERE line BETWEEN :first_line AND :last_line ORDER BY line;
BEGIN;
UPDATE bound_chunk SET state = 'done' WHERE id = :id AND fence = :fence AND owner = 'bench';
INSERT INTO bound_result SELECT line, nextval('bound_sequence'), data, now()
  FROM bound_item WHERE line BETWEEN :first_line AND :last_line;
COMMIT;
SQL
start=$(date +%s.%N)
# Items: one client, as one submitter appends them.
pgbench -n -f "$script/append.sql" -c 1 -t $(( (items + 999) / 1000 )) "$conninfo" >"$script/log" 2>&1 || { cat "$script/log" >&2; exit 1; }
psql -q "$conninfo" -c "INSERT INTO bound_chunk (id, first_line, last_line, state)
  SELECT g, (g - 1) * $chunk + 1, g * $chunk, 'pending' FROM generate_series(1, $chunks) g" >/dev/null
pgbench -n -f "$script/cycle.sql" -c "$clients" -t $(( chunks / clients )) "$conninfo" >"$script/log" 2>&1 || { cat "$script/log" >&2; exit 1; }
end=$(date +%s.%N)
done=$(psql -tA "$conninfo" -c "SELECT count(*) FROM bound_result")
[ "$done" -ge $(( items / 2 )) ] || { echo "pg_bound: only $done results recorded" >&2; exit 1; }
python3 -c "print(f'{$end - $start:.3f}')"
