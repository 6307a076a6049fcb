"""Running the batch command: its JSON output and documented exit statuses,
never its database."""

import json
import os
import shutil
import subprocess

from .errors import BatchError


def executable():
    """`BATCH_BIN`, else `batch` on PATH."""
    path = os.environ.get("BATCH_BIN") or shutil.which("batch")
    if not path:
        raise BatchError("the batch command is not on PATH (or set BATCH_BIN)")
    return path


class Batch:
    """The batch CLI for one database (`db`, else `BATCH_DB`, else batch's
    default)."""

    def __init__(self, db=None):
        self.db = db

    def argv(self, *arguments):
        command = [executable(), arguments[0]]
        if self.db:
            command += ["--db", self.db]
        return command + list(arguments[1:])

    def run(self, *arguments, ok=(0,)):
        """Runs a subcommand to its end; its stdout. A status not in `ok`
        raises BatchError with batch's message."""
        done = subprocess.run(self.argv(*arguments), stdin=subprocess.DEVNULL, capture_output=True)
        if done.returncode not in ok:
            message = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
            raise BatchError(message)
        return done.stdout.decode()

    def popen(self, *arguments, stdin=None):
        return subprocess.Popen(self.argv(*arguments), stdin=stdin, stdout=subprocess.PIPE)

    def jobs(self):
        """Every job, newest first, as `batch list --json` gives them."""
        out = self.run("list", "--json", "--limit", "1000000")
        return [json.loads(line) for line in out.splitlines() if line.strip()]
