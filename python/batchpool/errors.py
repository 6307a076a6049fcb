"""The errors batchpool raises besides the function's own."""


class BatchError(Exception):
    """The batch command failed: its message is batch's one line on stderr."""


class NameConflict(BatchError):
    """A job of this name exists for another function, or another input."""


class WorkerLost(BatchError):
    """The worker running an item died (a crash, a signal, a timeout): the
    item has no return value. Its place in the results is where it is
    raised, as for an exception of the function."""


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, attached as the
    ``__cause__`` of the exception re-raised here (as Pool does)."""

    def __init__(self, tb):
        super().__init__(tb)
        self.tb = tb

    def __str__(self):
        return self.tb
