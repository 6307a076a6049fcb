"""Python's Pool.imap against batchpool's on the same function and items.

    python3 benchmarks/batchpool_bench.py pool N WORKERS [CHUNKSIZE]
    python3 benchmarks/batchpool_bench.py batchpool N WORKERS [CHUNKSIZE]   # BATCH_DB, BATCH_BIN set by the caller

CHUNKSIZE is given to imap as is (Pool's default 1000 here; batchpool's
default: none, one call per stored item).

Prints 'seconds peak_rss_kib' (the script's own peak; Pool's workers and
batch's processes are not counted)."""

import resource
import sys
import time


def f(x):
    return x * 2


def main():
    which, count, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    chunksize = int(sys.argv[4]) if len(sys.argv) > 4 else None
    start = time.monotonic()
    total = 0
    if which == "pool":
        import multiprocessing
        with multiprocessing.Pool(workers) as pool:
            for value in pool.imap(f, range(count), chunksize=chunksize or 1000):
                total += value
    else:
        from batchpool import Pool
        with Pool(processes=workers, name=f"bench-{count}-{time.time()}") as pool:
            for value in pool.imap(f, range(count), chunksize=chunksize):
                total += value
    seconds = time.monotonic() - start
    assert total == count * (count - 1), total
    print(f"{seconds:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")


if __name__ == "__main__":
    main()
