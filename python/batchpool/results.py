"""The iterator `imap` and `imap_unordered` return, reading `batch follow
--json`, and the window that checks an attached job's stored input."""

import collections
import json
import sys
import threading

from . import codec
from .errors import BatchError, NameConflict, RemoteTraceback, WorkerLost

#: How many items sent to an attached job may wait for their results to be
#: checked against what the job stored: memory stays flat.
CHECK_WINDOW = 10000


def outcomes_of(job, record, packed):
    """The outcomes of an item's calls, in input order, with where each
    came from: one for an item of one call, the pack's for a pack."""
    line = record["line"]
    if record["status"] != "succeeded":
        lost = ("lost", f"{record.get('reason') or 'failed'}"
                + (f": {record['error'].strip()}" if record.get("error") else ""))
        count = codec.calls_in(record["input"]) if packed else 1
        return [(lost, line, index, count) for index in range(count)]
    decoded = codec.decode_result(record["output"].strip())
    if not packed:
        return [(decoded, line, 0, 1)]
    return [(outcome, line, index, len(decoded)) for index, outcome in enumerate(decoded)]


def value_of(job, entry):
    """A call's return value, or its exception raised (with the worker's
    traceback as its cause)."""
    (kind, *rest), line, index, count = entry
    where = f"job {job}, item {line}" + (f", call {index + 1} of {count}" if count > 1 else "")
    if kind == "ok":
        return rest[0]
    if kind == "lost":
        raise WorkerLost(f"{where}: {rest[0]}")
    error, text = rest
    if error is None:
        error = WorkerLost(f"{where}: the function raised an exception that cannot be pickled")
    error.__cause__ = RemoteTraceback(text)
    raise error


class Results:
    """The iterator `imap` and `imap_unordered` return: like Pool's, an
    item whose function raised raises at its place, and iterating on gives
    the items after it."""

    def __init__(self, pool, job, follower, window, failure, packed=False):
        self.pool, self.job, self.follower = pool, job, follower
        self.window, self.failure = window, failure
        self.packed = packed
        self.pending = collections.deque()  # the calls of the last item read
        self.ended = False

    def __iter__(self):
        return self

    def __next__(self):
        while not self.pending:
            if self.ended:
                raise StopIteration
            try:
                raw = self.follower.stdout.readline()
                if not raw:
                    self.ended = True
                    self.end()
                    raise StopIteration
                record = json.loads(raw)
                self.check(record)
                self.pending.extend(outcomes_of(self.job, record, self.packed))
            except BaseException:
                if not isinstance(sys.exc_info()[1], StopIteration):
                    self.close()
                raise
        return value_of(self.job, self.pending.popleft())

    def check(self, record):
        """An attached job's stored input must be this input."""
        if self.window is None:
            return
        line, job = record["line"], self.job
        sent = self.window.take(line)
        if sent is None:
            if self.failure:
                raise self.failure[0]
            raise NameConflict(
                f"this input has fewer items than job {job} stored: its name is reused for another input "
                f"(give another name, or batch rm {job})")
        stored = record.get("input")
        if stored is not None and stored != sent:
            raise NameConflict(
                f"item {line} of this input differs from the one job {job} stored: "
                f"the job's name is reused for another input (give another name, or batch rm {job})")

    def end(self):
        status = self.follower.wait()
        job = self.job
        if self.failure:
            raise self.failure[0]
        if status == 2:
            raise BatchError(f"job {job} was cancelled")
        if status not in (0, 1):
            raise BatchError(f"batch follow {job} failed (exit status {status})")
        if self.window is not None and self.window.unmatched():
            raise NameConflict(f"this input has more items than job {job} stored: its name is reused for another input")
        with self.pool._lock:
            self.pool._unfinished.discard(job)

    def close(self):
        self.ended = True
        if self.follower.poll() is None:
            self.follower.kill()
            self.follower.wait()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class CheckWindow:
    """Items sent to an attached job, kept until their results (which carry
    the stored input) are checked against them; at most CHECK_WINDOW."""

    def __init__(self):
        self.items = collections.OrderedDict()
        self.condition = threading.Condition()
        self.done = False
        self.failed = False
        self.matched = 0
        self.sent = 0

    def put(self, line, item):
        with self.condition:
            while len(self.items) >= CHECK_WINDOW and not self.failed:
                self.condition.wait()
            self.items[line] = item
            self.sent = line
            self.condition.notify_all()

    def take(self, line):
        with self.condition:
            while line not in self.items and not self.done and not self.failed and line > self.sent:
                self.condition.wait()
            item = self.items.pop(line, None)
            if item is not None:
                self.matched += 1
            self.condition.notify_all()
            return item

    def unmatched(self):
        with self.condition:
            return bool(self.items)

    def finish(self):
        with self.condition:
            self.done = True
            self.condition.notify_all()

    def fail(self):
        with self.condition:
            self.failed = True
            self.condition.notify_all()
