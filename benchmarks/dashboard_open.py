"""Keeps one dashboard page open in headless chromium during a benchmark run:
`python3 dashboard_open.py URL READY_FILE JOB` opens the jobs page at URL
(`batch ui`'s, with its token), writes READY_FILE once the browser runs, then
switches to JOB's page as soon as the job exists and stays there, updating
itself, until SIGTERM. The WebDriver client is the browser tests' own."""

import os
import signal
import sys
import time
import urllib.parse
from pathlib import Path

os.environ.setdefault("BATCH_BIN", "batch")  # the tests' module looks for binaries otherwise
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "Browser"))
from conftest import Browser, request  # noqa: E402


def main(url, ready_file, job):
    browser = Browser()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        browser.open(url)
        Path(ready_file).write_text("ready\n")
        parts = urllib.parse.urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        while not stopping:
            try:
                if request(f"{origin}/api/jobs/{job}?{parts.query}")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        if not stopping:
            browser.open(f"{origin}/jobs/{job}")
        while not stopping:
            time.sleep(0.2)
    finally:
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
