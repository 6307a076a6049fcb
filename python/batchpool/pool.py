"""`Pool`: multiprocessing.Pool's map family on batch."""

import collections
import json
import os
import subprocess
import sys
import threading

from . import codec
from .async_result import AsyncResult
from .cli import Batch
from .errors import BatchError, NameConflict
from .results import CheckWindow, Results

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")


def function_spec(function):
    """How the worker finds the function again: by reference, as pickle
    and Pool do (a module-level function)."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname or "<lambda>" in qualname:
        raise TypeError(f"{function!r} cannot be run by batchpool: give a module-level function, as Pool needs")
    return f"{module}:{qualname}"


def stored_pack(job):
    """The packing a stored job was made with (its worker's ``--pack``;
    jobs made before packs existed have none: one call per item)."""
    options = (job.get("command") or [])[2:-1]  # python3 worker.py [--key value]... MODULE:FUNCTION
    for key, value in zip(options[::2], options[1::2]):
        if key == "--pack":
            return int(value)
    return 1


def main_script():
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.abspath(path) if path else ""


def call_site():
    """The first frame outside batchpool: where the user called the pool."""
    frame = sys._getframe(1)
    here = os.path.dirname(os.path.abspath(__file__))
    while frame and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == here:
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{os.path.abspath(frame.f_code.co_filename)}:{frame.f_lineno}"


class Pool:
    """A durable pool: ``with Pool(processes=None, db=None, name=None) as pool``.

    - `processes` is the job's ``-j`` (how many of its workers run at once;
      the daemon's ``--workers`` bounds it too); None: as many as the
      daemons have.
    - `db` is the database (else ``BATCH_DB``); either store works.
    - `name` names the jobs this pool makes (one call, one job: the second
      call on one pool gets ``name#2``); by default a job is named after the
      function and the place it was called from. A script run again finds
      its jobs by these names: stored items are skipped, missing ones
      appended, finished results come back at once.
    - `detach=True` leaves unfinished jobs running when the pool is left
      (or on Ctrl-C), to be attached to later; by default they are
      cancelled, as Pool's ``terminate`` does.
    - `chunksize` is the default of the calls' own `chunksize`.

    `chunksize`, as in Pool, is how many calls travel together as one task:
    each stored item carries up to that many calls, and its result their
    return values or exceptions (an exception is still raised at its own
    call's place, and the calls after it still come). Storing, claiming and
    recording then cost once per pack instead of once per call. A worker
    that dies mid-pack runs the whole pack again, and `batch status` counts
    packs. None or 1: one call per item. A job keeps the packing it was made
    with: a script run again reads it back from the job.
    """

    def __init__(self, processes=None, db=None, name=None, detach=False, chunksize=None):
        if processes is not None and processes < 1:
            raise ValueError("Number of processes must be at least 1")
        self.processes = processes
        self.batch = Batch(db)
        self.name = name
        self.detach = detach
        self.default_chunksize = chunksize
        self._calls = collections.Counter()
        self._unfinished = set()
        self._children = set()
        self._lock = threading.Lock()
        self._closed = False

    # -- the Pool API ---------------------------------------------------

    def imap(self, func, iterable, chunksize=None):
        """Results in input order, as they are ready; the input is read as
        a stream (flat memory). `chunksize` calls are stored and run as one
        item (see the class); like Pool, a pack is sent when it is full or
        the input ends."""
        return self._results(func, ((x,) for x in iterable), chunksize, ordered=True)

    def imap_unordered(self, func, iterable, chunksize=None):
        """Results as soon as each is ready, in completion order."""
        return self._results(func, ((x,) for x in iterable), chunksize, ordered=False)

    def map(self, func, iterable, chunksize=None):
        return list(self.imap(func, iterable, chunksize))

    def starmap(self, func, iterable, chunksize=None):
        return list(self._results(func, (tuple(args) for args in iterable), chunksize, ordered=True))

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        results = self._results(func, ((x,) for x in iterable), chunksize, ordered=True)
        return AsyncResult(lambda: list(results), callback, error_callback)

    def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        results = self._results(func, (tuple(args) for args in iterable), chunksize, ordered=True)
        return AsyncResult(lambda: list(results), callback, error_callback)

    def apply(self, func, args=(), kwds=None):
        if kwds:
            raise TypeError("batchpool passes positional arguments only")
        return self.starmap(func, [args])[0]

    def close(self):
        self._closed = True

    def join(self):
        pass

    def terminate(self):
        """Cancels this pool's unfinished jobs (unless `detach`) and stops
        its batch processes."""
        self._closed = True
        with self._lock:
            children, unfinished = list(self._children), list(self._unfinished)
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        if not self.detach:
            for job in unfinished:
                try:
                    self.batch.run("cancel", str(job), ok=(0, 4))
                except BatchError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.terminate()

    # -- one call, one job ----------------------------------------------

    def _results(self, func, calls, chunksize, ordered):
        if self._closed:
            raise ValueError("Pool not running")
        spec = function_spec(func)
        base = self.name or f"{func.__module__}.{func.__qualname__}@{call_site()}"
        self._calls[base] += 1
        name = base if self._calls[base] == 1 else f"{base}#{self._calls[base]}"
        pack = chunksize or self.default_chunksize or 1
        if pack < 1:
            raise ValueError("Chunksize must be 1+, not {0:n}".format(pack))
        command = [sys.executable, WORKER, "--name", name, "--main", main_script(),
                   "--path", json.dumps(sys.path)] + (["--pack", str(pack)] if pack > 1 else []) + [spec]
        return self._run(name, spec, command, calls, pack, ordered)

    def _find(self, name, spec):
        for job in self.batch.jobs():
            command = job.get("command") or []
            if len(command) > 3 and command[1] == WORKER and command[2:4] == ["--name", name]:
                if command[-1] != spec:
                    raise NameConflict(
                        f"job {job['id']} is named {name!r} but runs {command[-1]}, not {spec}: "
                        f"give this call another name (Pool(name=...)) or remove the job (batch rm {job['id']})")
                return job
        return None

    def _run(self, name, spec, command, calls, pack, ordered):
        existing = self._find(name, spec)
        window = None
        if existing is None:
            options = ["--stream", "--open"]
            if pack > 1:
                # A pack's results travel as one output: room for a pack of
                # large values (batch's default is 16 MiB per item).
                options += ["--max-output", "256M"]
            if self.processes:
                options += ["-j", str(self.processes)]
            submitter = self._spawn("submit", *options, "--", *command, stdin=subprocess.PIPE)
            first = submitter.stdout.readline().decode().strip()
            if not first.isdigit():
                submitter.wait()
                raise BatchError(f"batch submit did not start a job (exit status {submitter.returncode})")
            job = int(first)
        else:
            job = existing["id"]
            pack = stored_pack(existing)
            window = CheckWindow()
            if existing["state"] == "cancelled":
                # Cancelled by a Ctrl-C last time: its unfinished items run again.
                self.batch.run("retry", str(job))
                existing = json.loads(self.batch.run("status", str(job), "--json"))
            submitter = None
            if existing["state"] == "open":
                submitter = self._spawn("submit", "--resume", str(job), "--open", stdin=subprocess.PIPE)
        with self._lock:
            self._unfinished.add(job)
        failure = []
        feeder = None
        if submitter is not None:
            feeder = threading.Thread(target=self._feed, args=(submitter, job, calls, pack, window, failure), daemon=True)
            feeder.start()
        else:
            # Nothing to append: the input is only checked against what is stored.
            feeder = threading.Thread(target=self._check_only, args=(calls, pack, window, failure), daemon=True)
            feeder.start()
        return self._follow(job, ordered, pack, window, failure)

    def _spawn(self, *arguments, stdin=None):
        child = self.batch.popen(*arguments, stdin=stdin)
        with self._lock:
            self._children.add(child)
        return child

    def _feed(self, submitter, job, calls, pack, window, failure):
        """Writes every item to `batch submit`, then seals the job: only a
        whole input seals it, so a script killed halfway leaves it open."""
        try:
            for line, item in enumerate(codec.encoded_lines(calls, pack), start=1):
                if window is not None:
                    window.put(line, item)
                submitter.stdin.write(item.encode("ascii") + b"\n")
                # At once: an input that arrives slowly is stored (and run)
                # as it arrives, not when a buffer fills.
                submitter.stdin.flush()
            submitter.stdin.close()
            status = submitter.wait()
            if status != 0:
                raise BatchError(f"batch submit failed (exit status {status}) for job {job}")
            self.batch.run("seal", str(job), ok=(0, 4))
        except BaseException as error:  # the consumer raises it
            failure.append(error)
            if submitter.poll() is None:
                submitter.kill()
            if window is not None:
                window.fail()
        finally:
            if window is not None:
                window.finish()

    def _check_only(self, calls, pack, window, failure):
        try:
            for line, item in enumerate(codec.encoded_lines(calls, pack), start=1):
                window.put(line, item)
        except BaseException as error:
            failure.append(error)
            window.fail()
        finally:
            window.finish()

    def _follow(self, job, ordered, pack, window, failure):
        arguments = ["follow", str(job), "--json"] + ([] if ordered else ["--unordered"])
        return Results(self, job, self._spawn(*arguments), window, failure, packed=pack > 1)
