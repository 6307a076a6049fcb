#!/usr/bin/env bash
# A sleep-bound job served by batchd on N simulated hosts (root only): each
# host is a network namespace with a veth link to the server (10.77.20X.0/24,
# which scripts/pg-cluster trusts) and batchd in pid and UTS namespaces of
# its own, two workers each. Prints the seconds `batch run` took for ITEMS
# items of `sleep 0.1`.
#   benchmarks/pg_hosts.sh BIN-DIR PG-DIR PORT HOSTS ITEMS
set -euo pipefail
bin=$1 pg_dir=$2 port=$3 hosts=$4 items=$5
db="hosts${hosts}_$$"
psql -q -h "$pg_dir" -p "$port" -U batch -d batch -c "CREATE DATABASE $db" >/dev/null
cleanup() {
  for i in $(seq 1 "$hosts"); do
    for pid in $(ip netns pids "bench$i" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "bench$i" 2>/dev/null || true
    ip link del "bbo$i" 2>/dev/null || true
  done
}
trap cleanup EXIT
for i in $(seq 1 "$hosts"); do
  ip netns add "bench$i"
  ip link add "bbo$i" type veth peer name "bbi$i"
  ip link set "bbi$i" netns "bench$i"
  ip addr add "10.77.20$i.1/24" dev "bbo$i"
  ip link set "bbo$i" up
  ip netns exec "bench$i" ip addr add "10.77.20$i.2/24" dev "bbi$i"
  ip netns exec "bench$i" ip link set "bbi$i" up
  ip netns exec "bench$i" ip link set lo up
  BATCH_DB="host=10.77.20$i.1 port=$port user=batch dbname=$db" \
    ip netns exec "bench$i" unshare --pid --uts --mount-proc --fork --kill-child \
    sh -c "hostname bench$i && exec $bin/batchd --workers 2" 2>/dev/null &
done
until [ "$(psql -h "$pg_dir" -p "$port" -U batch -d "$db" -tAc 'select count(*) from daemon' 2>/dev/null)" = "$hosts" ]; do sleep 0.05; done
start=$(date +%s.%N)
seq "$items" | BATCH_DB="host=$pg_dir port=$port user=batch dbname=$db" BATCH_NO_AUTOSTART=1 \
  "$bin/batch" run -- sh -c "sleep 0.1" _ >/dev/null
end=$(date +%s.%N)
python3 -c "print(f'{$end - $start:.3f}')"
