"""The tests run real scripts with the real batch and batchd binaries (the
package's debug build unless BATCH_BIN names another), each on a database
of its own in a temporary folder, with a daemon autostarted as a user's
would be."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]
REPOSITORY = PACKAGE.parent


def batch_bin():
    configured = os.environ.get("BATCH_BIN")
    if configured:
        return configured
    built = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPOSITORY, capture_output=True, text=True, check=True)
    return os.path.join(built.stdout.strip(), "batch")


BATCH = batch_bin()


class Session:
    def __init__(self, folder):
        self.folder = folder
        self.db = str(folder / "jobs.db")
        self.env = dict(os.environ, BATCH_DB=self.db, BATCH_BIN=BATCH,
                        PYTHONPATH=str(PACKAGE), PATH=os.path.dirname(BATCH) + os.pathsep + os.environ["PATH"])
        self.env.pop("BATCH_NO_AUTOSTART", None)

    def script(self, name, text):
        path = self.folder / name
        path.write_text(text)
        return path

    def run(self, path, *args, timeout=180):
        return subprocess.run([sys.executable, str(path), *map(str, args)], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def start(self, path, *args):
        # A shell without job control starts background commands with SIGINT
        # ignored, and Python then never raises KeyboardInterrupt: the
        # script gets SIGINT as a terminal would give it.
        return subprocess.Popen([sys.executable, str(path), *map(str, args)], cwd=self.folder, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def batch(self, *args):
        return subprocess.run([BATCH, *args], env=self.env, capture_output=True, text=True, timeout=60)

    def stop_daemons(self):
        self.batch("daemon", "stop")


@pytest.fixture
def session(tmp_path):
    s = Session(tmp_path)
    yield s
    s.stop_daemons()


def eventually(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
