"""The dashboard in a real headless browser: Debian's chromium, driven
through chromedriver's WebDriver protocol (plain HTTP and JSON, so no
client library), against `batch ui` and a real daemon on a database in a
temporary folder."""

import base64
import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def binaries():
    configured = os.environ.get("BATCH_BIN")
    if configured:
        return os.path.dirname(configured)
    built = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPOSITORY, capture_output=True, text=True, check=True)
    return built.stdout.strip()


BIN = binaries()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, method="GET", body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Browser:
    """One headless chromium session."""

    def __init__(self):
        self.port = free_port()
        self.driver = subprocess.Popen(["chromedriver", f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(base + "/status")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        capabilities = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]}}}}
        status, body = request(base + "/session", "POST", capabilities)
        assert status == 200, body
        self.base = base + "/session/" + json.loads(body)["value"]["sessionId"]

    def call(self, method, path, body=None):
        status, raw = request(self.base + path, method, body if body is not None else ({} if method == "POST" else None))
        value = json.loads(raw)["value"] if raw else None
        return status, value

    def open(self, url):
        assert self.call("POST", "/url", {"url": url})[0] == 200

    def run(self, script, *args):
        status, value = self.call("POST", "/execute/sync", {"script": script, "args": list(args)})
        assert status == 200, value
        return value

    def click(self, selector):
        status, value = self.call("POST", "/element", {"using": "css selector", "value": selector})
        assert status == 200, value
        element = next(iter(value.values()))
        assert self.call("POST", f"/element/{element}/click")[0] == 200

    def alert_open(self):
        return self.call("GET", "/alert/text")[0] == 200

    def screenshot(self, path):
        status, value = self.call("GET", "/screenshot")
        assert status == 200
        Path(path).write_bytes(base64.b64decode(value))

    def close(self):
        try:
            self.call("DELETE", "")
        finally:
            self.driver.kill()
            self.driver.wait()


class Dashboard:
    """A database, a daemon and `batch ui` on a free port."""

    def __init__(self, folder):
        self.env = dict(os.environ, BATCH_DB=str(folder / "jobs.db"), BATCH_NO_AUTOSTART="1")
        self.daemon = subprocess.Popen([f"{BIN}/batchd", "--workers", "2"], env=self.env, stderr=subprocess.DEVNULL)
        self.ui = subprocess.Popen([f"{BIN}/batch", "ui", "--listen", "127.0.0.1:0"], env=self.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.ui.stdout.readline().strip()
        match = re.fullmatch(r"(http://127\.0\.0\.1:\d+)/\?token=([0-9a-f]{48})", line)
        assert match, (line, self.ui.stderr.read() if self.ui.poll() is not None else "")
        self.origin, self.token = match.groups()
        self.url = f"{self.origin}/?token={self.token}"

    def batch(self, *args, input=None):
        return subprocess.run([f"{BIN}/batch", *args], env=self.env, input=input, capture_output=True, text=True, timeout=60)

    def close(self):
        for process in (self.ui, self.daemon):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def dashboard(tmp_path):
    d = Dashboard(tmp_path)
    yield d
    d.close()


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


def eventually(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    return condition()
