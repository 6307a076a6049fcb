"""Helpers for scripts/bench: run a command and report its wall time and
peak memory (ru_maxrss of the child), and measure follow delays."""
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time


def run(argv, stdin_path=None, env=None):
    """Runs argv; prints 'seconds peak_kib' for it alone. Its output goes to
    the file MEASURE_STDOUT names, if set (to compare outputs), else nowhere."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    target = os.environ.get("MEASURE_STDOUT")
    stdout = open(target, "wb") if target else subprocess.DEVNULL
    start = time.monotonic()
    child = subprocess.Popen(argv, stdin=stdin, stdout=stdout, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[0]} failed with status {os.waitstatus_to_exitcode(status)}")
    print(f"{seconds:.3f} {usage.ru_maxrss}")


def follow_delay(batch, db, count):
    """Runs `count` tiny items per item and reads `follow --unordered --json`,
    stamping each line as it arrives; the delay is that moment minus the
    item's recorded finish time (a SQLite file, or a PostgreSQL connection
    string, read with psql). Prints 'median_ms p99_ms'."""
    env = dict(os.environ, BATCH_DB=db, BATCH_NO_AUTOSTART="1")
    job = subprocess.run([batch, "submit", "--chunksize", "1", "--", "true"],
                         input="".join(f"{i}\n" for i in range(count)).encode(),
                         capture_output=True, env=env, check=True).stdout.decode().strip()
    follower = subprocess.Popen([batch, "follow", "--unordered", "--json", job], stdout=subprocess.PIPE, env=env)
    arrivals = {}
    for raw in follower.stdout:
        arrivals[json.loads(raw)["line"]] = time.time()
    follower.wait()
    if db.startswith("postgres") or "host=" in db:
        rows = subprocess.run(["psql", "-tA", "-F", " ", db, "-c",
                               f"SELECT line, extract(epoch FROM finished_at) FROM result WHERE job_id = {int(job)}"],
                              capture_output=True, check=True).stdout.decode().split("\n")
        finished = {int(line): float(at) for line, at in (row.split() for row in rows if row.strip())}
    else:
        connection = sqlite3.connect(db)
        # A result's key is its job in the high bits, its line in the low 32 (ItemKey).
        finished = dict(connection.execute(
            "SELECT key & 4294967295, finished_at FROM result WHERE key BETWEEN ?1 << 32 AND (?1 << 32) + 4294967295",
            (int(job),)))
    delays = sorted((arrivals[line] - finished[line]) * 1000 for line in arrivals)
    print(f"{delays[len(delays) // 2]:.1f} {delays[min(len(delays) - 1, int(len(delays) * 0.99))]:.1f}")


def pool_imap(count, workers):
    """Python's Pool.imap over the same items, in memory (nothing durable).
    Prints seconds."""
    import multiprocessing
    start = time.monotonic()
    with multiprocessing.Pool(workers) as pool:
        for _ in pool.imap(str, range(1, count + 1), chunksize=1000):
            pass
    print(f"{time.monotonic() - start:.3f}")


def status_field(pid, field):
    """A memory figure of a running process from /proc/PID/status, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                print(line.split()[1])
                return
    print(0)


def peak_of(pid):
    """Peak resident memory of a running process, in KiB."""
    status_field(pid, "VmHWM")


def cpu_of(pid, seconds):
    """CPU time (user + system) a running process uses over the next `seconds`, in ms."""
    def ticks():
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    start = ticks()
    time.sleep(seconds)
    print(round((ticks() - start) * 1000 / os.sysconf("SC_CLK_TCK")))


def scrape(url, count):
    """Fetches url count times, one after another; prints 'median_ms p99_ms'."""
    import urllib.request
    times = []
    for _ in range(count):
        started = time.perf_counter()
        urllib.request.urlopen(url, timeout=30).read()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(f"{times[len(times) // 2]:.1f} {times[min(len(times) - 1, int(len(times) * 0.99))]:.1f}")


def latency(batch, db, count):
    """Times `echo 1 | batch run -- true` against a warm daemon, count times,
    in turns with `batch list` (the CLI's own start and one store read) and
    reads each job's stored times: prints 'run_median run_p90 list_median
    start_median sealed_to_started_median' (ms). The last is how long the
    waiting daemon took to start the item once its input was complete."""
    import statistics
    env = dict(os.environ, BATCH_DB=db, BATCH_NO_AUTOSTART="1")
    runs, lists, starts, wakes = [], [], [], []
    for i in range(count + 3):
        started = time.time()
        subprocess.run([batch, "run", "--", "true"], input=b"1\n", stdout=subprocess.DEVNULL, env=env, check=True)
        ended = time.time()
        listed = time.perf_counter()
        subprocess.run([batch, "list"], stdout=subprocess.DEVNULL, env=env, check=True)
        listed = time.perf_counter() - listed
        if i < 3:
            continue  # warm-up
        with sqlite3.connect(db) as connection:
            created, sealed, item_started = connection.execute(
                "SELECT j.created_at, j.sealed_at, r.started_at FROM job j "
                "JOIN result r ON r.key BETWEEN j.id << 32 AND (j.id << 32) + 4294967295 "
                "ORDER BY j.id DESC LIMIT 1").fetchone()
        runs.append((ended - started) * 1000)
        lists.append(listed * 1000)
        starts.append((created - started) * 1000)
        wakes.append((item_started - sealed) * 1000)
    runs.sort()
    print(f"{statistics.median(runs):.1f} {runs[int(len(runs) * 0.9)]:.1f} {statistics.median(lists):.1f} "
          f"{statistics.median(starts):.1f} {statistics.median(wakes):.1f}")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "run":
        stdin_path = sys.argv[2] if sys.argv[2] != "-" else None
        run(sys.argv[3:], stdin_path)
    elif command == "follow-delay":
        follow_delay(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command == "pool-imap":
        pool_imap(int(sys.argv[2]), int(sys.argv[3]))
    elif command == "peak":
        peak_of(int(sys.argv[2]))
    elif command == "cpu":
        cpu_of(int(sys.argv[2]), float(sys.argv[3]))
    elif command == "latency":
        latency(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command == "scrape":
        scrape(sys.argv[2], int(sys.argv[3]))
    elif command == "rss":
        status_field(int(sys.argv[2]), "VmRSS")
