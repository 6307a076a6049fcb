"""PgQueuer on the same PostgreSQL cluster as batch, tuned as its guide says
(asyncpg, batch size 100): N trivial jobs enqueued (1,000 per call), then
processed by WORKERS worker processes in drain mode; prints the seconds of
the whole (enqueue and process). Runs in a venv with pgqueuer and asyncpg.
    python pgqueuer_bench.py DSN N WORKERS"""
import asyncio
import multiprocessing
import sys
import time

import asyncpg
from pgqueuer.db import AsyncpgDriver
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries
from pgqueuer import types


async def enqueue(dsn, count):
    connection = await asyncpg.connect(dsn)
    queries = Queries(AsyncpgDriver(connection))
    if not await queries.schema_is_installed():
        await queries.install()
    for start in range(0, count, 1000):
        size = min(1000, count - start)
        await queries.enqueue(["trivial"] * size, [str(start + i).encode() for i in range(size)], [0] * size)
    await connection.close()


async def drain(dsn):
    connection = await asyncpg.connect(dsn)
    manager = QueueManager(Queries(AsyncpgDriver(connection)))

    @manager.entrypoint("trivial")
    async def trivial(job):
        return None

    await manager.run(batch_size=100, mode=types.QueueExecutionMode.drain)
    await connection.close()


def worker(dsn):
    asyncio.run(drain(dsn))


def main():
    dsn, count, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    started = time.monotonic()
    asyncio.run(enqueue(dsn, count))
    processes = [multiprocessing.Process(target=worker, args=(dsn,)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    seconds = time.monotonic() - started
    left = asyncio.run(remaining(dsn))
    if left:
        sys.exit(f"pgqueuer: {left} jobs left in the queue")
    print(f"{seconds:.3f}")


async def remaining(dsn):
    connection = await asyncpg.connect(dsn)
    left = await connection.fetchval("SELECT count(*) FROM pgqueuer")
    await connection.close()
    return left


if __name__ == "__main__":
    main()
