"""`AsyncResult`: what `map_async` returns, as multiprocessing's."""

import multiprocessing
import threading


class AsyncResult:
    """The result of `map_async` / `starmap_async`, as multiprocessing's."""

    def __init__(self, run, callback=None, error_callback=None):
        self._done = threading.Event()
        self._value = None
        self._error = None

        def target():
            try:
                self._value = run()
                if callback:
                    callback(self._value)
            except BaseException as error:  # handed to get()
                self._error = error
                if error_callback:
                    error_callback(error)
            finally:
                self._done.set()

        threading.Thread(target=target, daemon=True).start()

    def ready(self):
        return self._done.is_set()

    def successful(self):
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._error is None

    def wait(self, timeout=None):
        self._done.wait(timeout)

    def get(self, timeout=None):
        if not self._done.wait(timeout):
            raise multiprocessing.TimeoutError
        if self._error is not None:
            raise self._error
        return self._value
