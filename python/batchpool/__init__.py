"""A durable ``multiprocessing.Pool`` on batch.

    from batchpool import Pool

    def resize(path): ...

    if __name__ == "__main__":
        with Pool(processes=4) as pool:
            for thumbnail in pool.imap(resize, paths):
                ...

Items and results are stored by batch; the function runs in long-lived
worker processes started by ``batchd``. Run the same script again after a
crash and the job is attached to by its name: finished results come back at
once and only unfinished items run.
"""

from .errors import BatchError, NameConflict, RemoteTraceback, WorkerLost
from .async_result import AsyncResult
from .pool import Pool

__all__ = ["Pool", "AsyncResult", "BatchError", "NameConflict", "RemoteTraceback", "WorkerLost"]
