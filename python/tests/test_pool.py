"""batchpool against Pool's documented behaviour, with real processes."""

import json
import os
import signal
import time

from conftest import eventually

QA = '''
import time
from batchpool import Pool

def func(x):
    time.sleep(x / 10)
    return x + 2

if __name__ == "__main__":
    with Pool(processes=2) as pool:
        print("imap", list(pool.imap(func, [1, 5, 3])))
        print("imap_unordered", list(pool.imap_unordered(func, [1, 5, 3])))
        print("map_async", pool.map_async(func, [1, 5, 3]).get(timeout=60))
        print("starmap", pool.starmap(pow, [(2, 3), (3, 2)]))
'''


def test_the_pool_example_gives_pools_order_and_grouping(session):
    # The function is defined in the script itself: the worker imports it
    # as __mp_main__, and the script's main block does not run again.
    done = session.run(session.script("qa.py", QA))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "imap [3, 7, 5]",
        "imap_unordered [3, 5, 7]",
        "map_async [3, 7, 5]",
        "starmap [8, 9]",
    ]


def test_an_exception_is_raised_at_its_place_and_the_rest_complete(session):
    script = session.script("raises.py", '''
from batchpool import Pool, RemoteTraceback

def f(x):
    if x == 3:
        raise ValueError(f"bad {x}")
    return x * 10

if __name__ == "__main__":
    with Pool() as pool:
        results = pool.imap(f, range(1, 6))
        seen = []
        while True:
            try:
                seen.append(next(results))
            except StopIteration:
                break
            except ValueError as error:
                assert isinstance(error.__cause__, RemoteTraceback)
                assert "in f" in str(error.__cause__) and "bad 3" in str(error.__cause__)
                seen.append("ValueError: " + str(error))
        print(seen)
        try:
            pool.map(f, [1, 3])
        except ValueError as error:
            print("map raised", error)
''')
    done = session.run(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[10, 20, 'ValueError: bad 3', 40, 50]", "map raised bad 3"]


RESUMABLE = '''
import os, sys, time
from batchpool import Pool

MARKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs")

def work(x):
    with open(MARKS, "a") as marks:
        marks.write(f"{x}\\n")
    time.sleep(0.05)
    return x * x

if __name__ == "__main__":
    def items():
        # The input arrives slowly (a generator reading a slow source):
        # the script is killed before it has all been given.
        for x in range(60):
            yield x
            time.sleep(0.03)

    # An optional chunksize: packs of calls (the packed resume test).
    chunksize = int(sys.argv[1]) if len(sys.argv) > 1 else None
    with Pool(processes=2) as pool:
        for value in pool.imap(work, items(), chunksize=chunksize):
            print(value, flush=True)
'''


def test_a_killed_script_run_again_finishes_without_running_finished_items_again(session):
    script = session.script("resumable.py", RESUMABLE)
    first = session.start(script)
    printed = []
    while len(printed) < 10:
        printed.append(first.stdout.readline())
    first.send_signal(signal.SIGKILL)
    first.wait()
    status = json.loads(session.batch("status", "--json").stdout)
    assert status["state"] == "open", "a killed script does not seal its job"
    again = session.run(script)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == [str(x * x) for x in range(60)]
    runs = (session.folder / "runs").read_text().split()
    assert sorted(map(int, runs)) == list(range(60)), "every item ran exactly once"


def test_a_killed_daemon_loses_nothing(session):
    script = session.script("resumable.py", RESUMABLE)
    running = session.start(script)
    assert running.stdout.readline().strip() == "0"
    daemons = [json.loads(line) for line in session.batch("daemon", "status", "--json").stdout.splitlines()]
    assert daemons, "a daemon was started"
    for daemon in daemons:
        os.kill(daemon["pid"], signal.SIGKILL)
    out = running.stdout.read()  # not communicate(): it skips what readline buffered
    running.wait(timeout=180)
    assert running.returncode == 0, running.stderr.read()
    assert ["0"] + out.split() == [str(x * x) for x in range(60)]


def test_a_name_reused_for_another_function_or_input_is_an_error(session):
    script = session.script("names.py", '''
import sys
from batchpool import Pool, NameConflict

def double(x):
    return 2 * x

def triple(x):
    return 3 * x

if __name__ == "__main__":
    with Pool(name="shared") as pool:
        print(pool.map(double, [1, 2, 3]))
    with Pool(name="shared") as pool:
        print(pool.map(double, [1, 2, 3]), "again, from the store")
    for function, items in ((triple, [1, 2, 3]), (double, [1, 2, 4]), (double, [1, 2])):
        with Pool(name="shared") as pool:
            try:
                pool.map(function, items)
                print("accepted", function.__name__, items)
            except NameConflict as error:
                print("refused:", error)
''')
    done = session.run(script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["[2, 4, 6]", "[2, 4, 6] again, from the store"]
    assert lines[2].startswith("refused: job 1 is named 'shared' but runs __main__:double, not __main__:triple"), lines[2]
    assert lines[3].startswith("refused: item 3 of this input differs from the one job 1 stored"), lines[3]
    assert lines[4].startswith("refused: this input has fewer items than job 1 stored"), lines[4]


def test_ctrl_c_cancels_the_job_and_detach_leaves_it_running(session):
    script = session.script("interrupted.py", '''
import sys, time
from batchpool import Pool

def slow(x):
    time.sleep(0.2)
    return x

if __name__ == "__main__":
    with Pool(processes=1, detach=sys.argv[1] == "detach", name=sys.argv[1]) as pool:
        for value in pool.imap(slow, range(100)):
            print(value, flush=True)
''')
    for mode, state in (("cancel", "cancelled"), ("detach", "sealed")):
        running = session.start(script, mode)
        assert running.stdout.readline().strip() == "0"
        running.send_signal(signal.SIGINT)
        running.wait(timeout=60)
        assert running.returncode != 0
        newest = json.loads(session.batch("status", "--json").stdout)
        assert newest["state"] == state, (mode, newest)


MILLION = '''
import resource, sys
from batchpool import Pool

def inc(x):
    return x + 1

if __name__ == "__main__":
    n = int(sys.argv[1])
    total = 0
    with Pool(name=f"count-{n}") as pool:
        for value in pool.imap_unordered(inc, range(n)):
            total += value
    assert total == n * (n + 1) // 2
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
'''


def test_a_million_items_keep_the_scripts_memory_flat(session):
    script = session.script("million.py", MILLION)
    small = session.run(script, 100_000, timeout=600)
    assert small.returncode == 0, small.stderr
    large = session.run(script, 1_000_000, timeout=900)
    assert large.returncode == 0, large.stderr
    small_kib, large_kib = int(small.stdout), int(large.stdout)
    # Pool.imap would hold the million items and their results: ~10x.
    assert large_kib < 1.5 * small_kib, (small_kib, large_kib)


def test_the_pool_example_on_postgresql(session):
    """The same script on a PostgreSQL database (the test cluster of
    scripts/test): batchpool drives the CLI, so either store works."""
    import subprocess
    import uuid

    base = os.environ.get("BATCH_TEST_POSTGRES")
    assert base, "no PostgreSQL server: run the tests with scripts/test, which starts one (BATCH_TEST_POSTGRES)"
    name = "py_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", "-q", base, "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    session.env["BATCH_DB"] = f"{base} dbname={name}"
    done = session.run(session.script("qa.py", QA))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == ["imap [3, 7, 5]", "imap_unordered [3, 5, 7]", "map_async [3, 7, 5]"]


PACKED = '''
import os, sys, threading
from batchpool import Pool, RemoteTraceback

class Unpicklable:
    def __reduce__(self):
        raise TypeError("not today")

def f(x):
    if x == 7:
        raise ValueError(f"bad {x}")
    if x == 11:
        return Unpicklable()
    return x * 10

def outcomes(results):
    seen = []
    while True:
        try:
            seen.append(next(results))
        except StopIteration:
            return seen
        except ValueError as error:
            assert isinstance(error.__cause__, RemoteTraceback), error
            seen.append("ValueError: " + str(error))
        except Exception as error:
            seen.append(type(error).__name__)

if __name__ == "__main__":
    with Pool(processes=2, name="packed") as pool:
        print(outcomes(pool.imap(f, range(1, 14), chunksize=4)))
        print(sorted(map(str, outcomes(pool.imap_unordered(f, range(1, 14), chunksize=5)))))
        print(pool.map(f, range(20, 30), chunksize=3))
        print(pool.starmap(pow, [(2, n) for n in range(6)], chunksize=4))
'''


def test_calls_travel_in_packs_of_chunksize_with_pools_results(session):
    done = session.run(session.script("packed.py", PACKED))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    expected = [10, 20, 30, 40, 50, 60, "ValueError: bad 7", 80, 90, 100, "TypeError", 120, 130]  # the pickling error of 11's value
    assert lines[0] == str(expected), lines[0]
    assert lines[1] == str(sorted(map(str, expected))), lines[1]
    assert lines[2] == str([x * 10 for x in range(20, 30)])
    assert lines[3] == str([2 ** n for n in range(6)])
    # Each job stored packs: 13 calls by 4 are 4 items, by 5 are 3, 10 by 3 are 4, 6 by 4 are 2.
    jobs = [json.loads(line) for line in session.batch("list", "--json").stdout.splitlines()]
    assert sorted(job["items"] for job in jobs) == [2, 3, 4, 4], jobs


def test_a_packed_job_run_again_keeps_its_packing_and_runs_each_call_once(session):
    script = session.script("resumable.py", RESUMABLE)
    first = session.start(script, 4)
    printed = []
    while len(printed) < 8:
        printed.append(first.stdout.readline())
    first.send_signal(signal.SIGKILL)
    first.wait()
    # Run again with another chunksize: the job's stored packs of 4 stand.
    again = session.run(script, 7)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == [str(x * x) for x in range(60)]
    runs = (session.folder / "runs").read_text().split()
    assert sorted(map(int, runs)) == list(range(60)), "every call ran exactly once"
    status = json.loads(session.batch("status", "--json").stdout)
    assert status["items"] == 15, status


def test_a_worker_that_dies_raises_worker_lost_at_each_call_of_its_item(session):
    script = session.script("dies.py", '''
import os
from batchpool import Pool, WorkerLost

def f(x):
    if x == 6:
        os._exit(3)
    return x

if __name__ == "__main__":
    for chunksize in (1, 4):
        with Pool(processes=1, name=f"dies-{chunksize}") as pool:
            seen = []
            results = pool.imap(f, range(10), chunksize=chunksize)
            while True:
                try:
                    seen.append(next(results))
                except StopIteration:
                    break
                except WorkerLost as error:
                    seen.append(str(error).split(":")[0])
            print(seen)
''')
    done = session.run(script)
    assert done.returncode == 0, done.stderr
    single, packed = done.stdout.splitlines()
    assert single == str([0, 1, 2, 3, 4, 5, "job 1, item 7", 7, 8, 9]), single
    lost = [f"job 2, item 2, call {n} of 4" for n in range(1, 5)]
    assert packed == str([0, 1, 2, 3] + lost + [8, 9]), packed


def test_a_pack_past_the_line_limit_is_split_and_keeps_its_order():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from batchpool import codec

    calls = [("x" * 200_000 + str(n),) for n in range(9)] + [(n,) for n in range(5)]
    lines = list(codec.encoded_lines(iter(calls), 10))
    assert all(len(line) <= codec.PACK_LIMIT for line in lines), [len(line) for line in lines]
    assert len(lines) > 2, "the first pack of ten was split"
    assert [args for line in lines for args in codec.decode_item(line)] == calls
    assert lines == list(codec.encoded_lines(iter(calls), 10)), "the same calls give the same lines"
