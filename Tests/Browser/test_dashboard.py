"""`batch ui` in headless chromium, with a real daemon running the jobs."""

import json
import os

from conftest import eventually, request

SCREENSHOTS = os.environ.get("BATCH_UI_SCREENSHOTS")  # a folder: the README's pictures are taken there


def text_of(browser, selector):
    return browser.run("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", selector)


def test_the_jobs_page_shows_progress_without_a_reload(dashboard, browser):
    job = dashboard.batch("submit", "--chunksize", "2", "--", "sh", "-c", "sleep 0.15; echo $1", "_",
                          input="".join(f"{i}\n" for i in range(1, 61))).stdout.strip()
    browser.open(dashboard.url)
    browser.run("window.notReloaded = true;")
    cell = f'tr[data-job="{job}"] td.done'
    first = eventually(lambda: text_of(browser, cell))
    assert first and first.endswith("/ 60"), first
    later = eventually(lambda: (lambda now: now if now and now != first else None)(text_of(browser, cell)))
    assert later and later != first, "the progress moved on the page"
    assert browser.run("return window.notReloaded === true;"), "without reloading the page"
    if SCREENSHOTS:
        browser.screenshot(os.path.join(SCREENSHOTS, "jobs.png"))
        browser.open(f"{dashboard.origin}/jobs/{job}")
        eventually(lambda: text_of(browser, "#items tbody tr"))
        import time
        time.sleep(4)  # a few points of throughput on the chart
        browser.screenshot(os.path.join(SCREENSHOTS, "job.png"))
        browser.open(f"{dashboard.origin}/daemons")
        eventually(lambda: text_of(browser, "#daemons tbody tr"))
        browser.screenshot(os.path.join(SCREENSHOTS, "daemons.png"))


def test_cancelling_from_the_page_cancels_the_job(dashboard, browser):
    job = dashboard.batch("submit", "--", "sleep", "30", input="1\n2\n3\n").stdout.strip()
    browser.open(dashboard.url)  # the token, then its cookie
    browser.open(f"{dashboard.origin}/jobs/{job}")
    assert eventually(lambda: (text_of(browser, "#title") or "").startswith(f"Job {job}"))
    spec = eventually(lambda: text_of(browser, "#spec"))
    assert "runtime p50 / p90 / p99 / max" in spec, spec
    browser.click("#cancel")
    assert eventually(lambda: json.loads(dashboard.batch("status", job, "--json").stdout)["state"] == "cancelled")
    assert eventually(lambda: text_of(browser, "#title") == f"Job {job}: cancelled"), "the page shows it"


def test_an_item_with_markup_is_shown_as_text_and_runs_nothing(dashboard, browser):
    item = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    job = dashboard.batch("submit", "--stream", "--", "cat", input=item + "\n").stdout.strip()
    assert eventually(lambda: json.loads(dashboard.batch("status", job, "--json").stdout)["state"] == "complete")
    browser.open(dashboard.url)
    browser.open(f"{dashboard.origin}/jobs/{job}")
    assert eventually(lambda: text_of(browser, "#items tbody td.text") == item), "the input, as text"
    assert text_of(browser, "#items tbody tr td:last-child") == item + "\n", "the output, as text"
    assert browser.run("return document.querySelectorAll('main script, main img').length;") == 0
    assert not browser.alert_open(), "no script ran"
    browser.open(f"{dashboard.origin}/jobs/{job}/items/1")
    assert eventually(lambda: text_of(browser, "#input") == item)
    assert not browser.alert_open()


def test_a_request_without_the_token_is_refused(dashboard):
    for path in ("/", "/api/jobs", "/events", "/jobs/1"):
        status, body = request(dashboard.origin + path)
        assert status == 403 and b"token" in body, (path, status)
    assert request(dashboard.origin + "/api/jobs?token=" + "0" * 48)[0] == 403, "a wrong token"
    assert request(dashboard.url)[0] == 200
    job = dashboard.batch("submit", "--", "sleep", "30", input="1\n").stdout.strip()
    # A change needs the token in its header, and its own origin.
    assert request(f"{dashboard.origin}/api/jobs/{job}/cancel?token={dashboard.token}", "POST")[0] == 403
    headers = {"X-Batch-Token": dashboard.token, "Origin": "http://evil.example"}
    assert request(f"{dashboard.origin}/api/jobs/{job}/cancel", "POST", headers=headers)[0] == 403
    assert json.loads(dashboard.batch("status", job, "--json").stdout)["state"] != "cancelled"
    headers["Origin"] = dashboard.origin
    assert request(f"{dashboard.origin}/api/jobs/{job}/cancel", "POST", headers=headers)[0] == 204
    assert json.loads(dashboard.batch("status", job, "--json").stdout)["state"] == "cancelled"


def test_the_jobs_list_pages_from_newest_to_oldest(dashboard, browser):
    ids = [dashboard.batch("submit", "--", "true", input="1\n").stdout.strip() for _ in range(5)]
    browser.open(dashboard.url)
    browser.run("document.getElementById('limit').insertAdjacentHTML('afterbegin', '<option>2</option>');"
                "document.getElementById('limit').value = '2'; document.getElementById('limit').onchange();")

    def shown():
        return browser.run("return [...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.job);")

    assert eventually(lambda: shown() == [ids[4], ids[3]]), shown()
    browser.click("#older")
    assert eventually(lambda: shown() == [ids[2], ids[1]]), shown()
    browser.click("#older")
    assert eventually(lambda: shown() == [ids[0]]), shown()
    assert browser.run("return document.getElementById('older').disabled;"), "the last page"
    browser.click("#newer")
    assert eventually(lambda: shown() == [ids[2], ids[1]]), shown()
    browser.click("#newest")
    assert eventually(lambda: shown() == [ids[4], ids[3]]), shown()


def test_the_throughput_chart_covers_the_jobs_whole_life(dashboard, browser):
    job = dashboard.batch("submit", "--chunksize", "5", "--", "sh", "-c", "sleep 0.05; echo $1", "_",
                          input="".join(f"{i}\n" for i in range(1, 121))).stdout.strip()
    assert dashboard.batch("wait", job).returncode == 0
    browser.open(f"{dashboard.url}")
    browser.open(f"{dashboard.origin}/jobs/{job}")
    # Opened after the job ended: the points come from the job's past, not
    # from samples taken while the page was open.
    points = eventually(lambda: browser.run(
        "const l = document.querySelector('#chart polyline'); return l ? l.getAttribute('points').split(' ').length : 0;"))
    assert points >= 10, points
