"""The dashboard in a real browser: Debian's chromium, driven by selenium through chromedriver.

A person signs in with a key (a wrong one is told so), drops an image that
goes straight to storage, watches the job through its steps on the job's
event stream (the browser's own EventSource), sees every output image load,
and cancels a job while its fetch is still running; opens a batch and
follows its counts on its event stream, filters its jobs, retries its failed
item and finds its manifest link. The
page must run under its own Content-Security-Policy: the browser's log holds
no violation. Screenshots are kept in test-artifacts/dashboard/.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from config import Settings
from tests import images
from tests.support.api import upload
from tests.support.cors import CorsFront
from tests.support.stack import ROOT, Api, Worker, free_port

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="Debian's chromium and chromium-driver (scripts/bootstrap)",
)


class SlowImage(BaseHTTPRequestHandler):
    """An image source that takes its time: the job is still in fetch when it is canceled."""

    def do_GET(self) -> None:
        time.sleep(8)
        body = images.jpeg(64, 64)
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def site(settings: Settings, worker: Worker, tmp_path: Path) -> Iterator[str]:
    """The API under gunicorn, its presigned URLs through a CORS front for the page's origin."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    host, _, s3_port = settings.s3_endpoint.partition(":")
    with CorsFront((host, int(s3_port)), origin) as front:
        api = Api(f"127.0.0.1:{port}", tmp_path / "api.log", {"PIXELFLOW_S3_PUBLIC_ENDPOINT": front.endpoint})
        api.start()
        try:
            yield origin
        finally:
            api.stop()


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1400",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def shot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def wait(driver: WebDriver, condition: Any, seconds: float = 30) -> Any:
    return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: condition(d))


def text(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def test_sign_in_upload_watch_preview_and_cancel_in_a_real_browser(
    site: str, browser: webdriver.Chrome, api_key: str, tmp_path: Path
) -> None:
    browser.get(f"{site}/dashboard/")
    assert browser.switch_to.active_element.get_attribute("id") == "key"  # the first thing to type
    unlabeled = browser.execute_script(
        "return [...document.querySelectorAll('input, select')].filter(e => !e.labels.length).map(e => e.id)"
    )
    assert unlabeled == []

    # A wrong key: an error a person can read, not a blank page.
    browser.find_element(By.ID, "key").send_keys("pf_not-a-key-at-all")
    browser.find_element(By.ID, "login-button").click()
    wait(browser, lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "refused" in text(browser, "error")
    assert not browser.find_element(By.ID, "app").is_displayed()
    shot(browser, "wrong-key")

    key = browser.find_element(By.ID, "key")
    key.clear()
    key.send_keys(api_key)
    browser.find_element(By.ID, "login-button").click()
    wait(browser, lambda d: d.find_element(By.ID, "app").is_displayed())
    assert browser.execute_script("return sessionStorage.getItem('pixelflow.key')") == api_key

    # Upload: the presigned PUT goes from the browser to storage.
    photo = tmp_path / "cat.jpg"
    photo.write_bytes(images.jpeg(640, 480))
    browser.find_element(By.ID, "file").send_keys(str(photo))
    wait(browser, lambda d: text(d, "uploaded").startswith("Uploaded cat.jpg"))
    wait(browser, lambda d: d.find_elements(By.ID, "preset-thumbnails"))
    browser.find_element(By.ID, "preset-thumbnails").click()
    browser.find_element(By.ID, "submit").click()
    wait(browser, lambda d: text(d, "job-status") == "succeeded", 90)
    assert [li.get_attribute("class") for li in browser.find_elements(By.CSS_SELECTOR, "#steps li")] == ["done"] * 4
    # Followed on its event stream (an EventSource), not by polling the job.
    job_id = text(browser, "job-id")
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert sum(u.endswith(f"/v1/jobs/{job_id}/events") for u in fetched) == 1, fetched
    assert sum(u.endswith(f"/v1/jobs/{job_id}") for u in fetched) == 1, fetched
    loaded = wait(
        browser,
        lambda d: (
            (
                n := d.execute_script(
                    "return [...document.querySelectorAll('#outputs img')]"
                    ".filter(i => i.complete && i.naturalWidth > 0).map(i => i.naturalWidth)"
                )
            )
            and len(n) == 5
            and n
        ),
    )
    assert sorted(loaded) == [200, 200, 320, 640, 640]  # thumbnails' 800 px do not enlarge a 640 px source
    captions = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#outputs figcaption")]
    assert all("bytes" in c and "% saved" in c for c in captions), captions
    shot(browser, "job-succeeded")

    # Cancel while the job's fetch is still waiting on a slow source.
    slow = ThreadingHTTPServer(("127.0.0.1", 0), SlowImage)
    threading.Thread(target=slow.serve_forever, args=(0.05,), daemon=True).start()
    try:
        browser.find_element(By.ID, "source-url").send_keys(f"http://127.0.0.1:{slow.server_address[1]}/slow.jpg")
        browser.find_element(By.ID, "submit").click()
        wait(browser, lambda d: text(d, "job-status") in ("queued", "processing") and d.find_element(By.ID, "cancel"))
        wait(browser, lambda d: text(d, "job-status") == "processing")
        running = [li.get_attribute("class") for li in browser.find_elements(By.CSS_SELECTOR, "#steps li")]
        assert running == ["running", "", "", ""]  # fetch, waiting on the slow source
        browser.find_element(By.ID, "cancel").click()
        wait(browser, lambda d: text(d, "job-status") == "canceled")
        shot(browser, "job-canceled")
    finally:
        slow.shutdown()
        slow.server_close()
    rows = wait(
        browser,
        lambda d: (
            (r := [row.text for row in d.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")])
            and any("canceled" in x for x in r)
            and r
        ),
    )
    assert any("succeeded" in r for r in rows), rows

    logged = browser.get_log("browser")  # type: ignore[no-untyped-call]
    violations = [e["message"] for e in logged if "Content Security Policy" in e["message"]]
    assert violations == []


def test_a_batch_s_view_follows_its_counts_filters_its_jobs_retries_and_links_its_manifest(
    site: str, browser: webdriver.Chrome, api_key: str, client: FlaskClient
) -> None:
    slow = ThreadingHTTPServer(("127.0.0.1", 0), SlowImage)
    threading.Thread(target=slow.serve_forever, args=(0.05,), daemon=True).start()
    try:
        good, broken = upload(client, images.jpeg(160, 120)), upload(client, images.jpeg(64, 48)[:300])
        items = [{"source": {"key": good}}, {"source": {"key": broken}},
                 {"source": {"url": f"http://127.0.0.1:{slow.server_address[1]}/slow.jpg"}}]  # fmt: skip
        created = client.post("/v1/batches", json={"items": items, "outputs": [{"name": "s", "format": "webp"}]})
        assert created.status_code == 202, created.json
        batch_id = created.json["id"]
        browser.get(f"{site}/dashboard/")
        browser.find_element(By.ID, "key").send_keys(api_key)
        browser.find_element(By.ID, "login-button").click()
        wait(browser, lambda d: batch_id in d.find_element(By.ID, "batches").text)
        row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#batches tbody tr") if batch_id in r.text)
        row.find_element(By.TAG_NAME, "button").click()
        # Live, while the slow item is still fetching: counts from the batch's event stream.
        wait(browser, lambda d: text(d, "batch-status") == "processing" and "1 running" in text(d, "batch-counts"))
        assert not browser.find_element(By.ID, "batch-manifest").is_displayed()
        shot(browser, "batch-running")
        wait(browser, lambda d: text(d, "batch-status") == "partially_failed", 60)
        assert text(browser, "batch-counts").startswith("3 of 3 ended: 2 succeeded, 1 failed")
        manifest = wait(browser, lambda d: d.find_element(By.ID, "batch-manifest").get_attribute("href"))
        assert manifest.startswith("http") and "manifest.jsonl" in manifest
        fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert any(u.endswith(f"/v1/batches/{batch_id}/events") for u in fetched), fetched
        # Its jobs, filtered.
        Select(browser.find_element(By.ID, "batch-filter")).select_by_visible_text("failed")
        wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#batch-jobs tbody tr")) == 1)
        assert "corrupt_image" in browser.find_element(By.CSS_SELECTOR, "#batch-jobs tbody tr").text
        shot(browser, "batch-ended")
        # Retry: the failed item runs again (and fails again), the batch ends again.
        ended_before = client.get(f"/v1/batches/{batch_id}").json["finished_at"]
        browser.find_element(By.ID, "batch-retry").click()
        wait(browser, lambda _: client.get(f"/v1/batches/{batch_id}").json["finished_at"] not in (None, ended_before))
        wait(browser, lambda d: text(d, "batch-status") == "partially_failed")
        wait(browser, lambda d: d.find_element(By.ID, "batch-retry").is_displayed())
    finally:
        slow.shutdown()
        slow.server_close()
    logged = browser.get_log("browser")  # type: ignore[no-untyped-call]
    assert [e["message"] for e in logged if "Content Security Policy" in e["message"]] == []
