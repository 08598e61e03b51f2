"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, against the
API served over HTTP and a real worker. Any console error or uncaught page error fails a test.

UPDATE_SCREENSHOTS=1 also writes the finished moons job's page to docs/job-moons.png.
"""

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.settings import get_settings
from tests.service.conftest import ROOT
from tests.service.live_server import live_server
from tests.service.servers import start_workers

__all__ = ["live_server"]  # the fixture, imported for this module's tests

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.usefixtures("worker")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MOONS = json.loads((ROOT / "examples" / "moons.json").read_text())
LONG_JOB = {**MOONS, "name": "long", "training": {**MOONS["training"], "epochs": 100_000}}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def expected_errors() -> list[str]:
    """Console errors a test provokes on purpose (a refused submit's 422): part of their text."""
    return []


@pytest.fixture
def page(browser: Any, expected_errors: list[str]) -> Iterator[Any]:
    """A fresh page (no cookies) whose console errors and page errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    problems = [p for p in problems if not any(expected in p for expected in expected_errors)]
    assert problems == [], f"the browser reported errors: {problems}"


def sign_in(page: Any, url: str, token: str) -> None:
    page.goto(url + "/")
    page.fill("#token", token)
    page.click("#token-form button")
    page.wait_for_selector("#submit-form")


def submit(page: Any, spec: dict[str, Any] | None = None) -> str:
    """Submit the JSON box (as pre-filled, or with ``spec``); the new job's id."""
    if spec is not None:
        page.fill("#spec", json.dumps(spec))
    page.click("#submit-form button")
    page.wait_for_url("**/jobs/*")
    job_id: str = page.get_attribute("#job", "data-job-id")
    return job_id


def wait_until(page: Any, expression: str, timeout: float = 60) -> None:
    """Poll a JavaScript expression until it is true (wait_for_function would eval() it, which
    the page's content security policy rightly forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        time.sleep(0.05)


def text(element_id: str) -> str:
    """A JavaScript expression: the text of the element with this id."""
    return f"document.getElementById('{element_id}').textContent"


POINTS = "Number(document.getElementById('chart').dataset.points)"
STATUS = text("status")
SCALE = "document.getElementById('chart').dataset.scale"
PAGE_WIDTH = "document.documentElement.scrollWidth"
PHONE = {"width": 390, "height": 844}


def test_submit_the_notebook_job_and_watch_it_train(
    page: Any, live_server: str, api_token: str, tmp_path: Path, expected_errors: list[str]
) -> None:
    sign_in(page, live_server, api_token)
    assert json.loads(page.input_value("#spec"))["name"] == "notebook"
    # A spec the API refuses: each wrong field is said once.
    expected_errors.append("status of 422")
    page.fill("#spec", json.dumps({"training": {"epochs": 0, "bogus": 1}}))
    page.click("#submit-form button")
    page.wait_for_selector("#submit-error:not([hidden])")
    error = page.text_content("#submit-error")
    assert error.count("training.epochs") == 1 and error.count("training.bogus") == 1, error
    page.fill("#spec", json.dumps({"name": "notebook", "training": {"epochs": 20}}))
    submit(page)
    page.wait_for_selector("#status:text('succeeded')", timeout=60_000)
    wait_until(page, f"{POINTS} === 20")
    assert page.is_visible("#chart canvas")
    assert page.text_content("#epoch") == "20"
    assert page.is_visible("#weights") and not page.is_visible("#cancel")
    page.screenshot(path=str(tmp_path / "notebook.png"), full_page=True)

    page.click("#predict")  # the pre-filled inputs: the notebook's first samples
    page.wait_for_selector("#outputs:not([hidden])")
    assert len(json.loads(page.text_content("#outputs"))) == 3

    page.goto(live_server + "/?status=succeeded")  # the list shows it, filtered
    assert "notebook" in page.text_content("#jobs-table")


def test_a_moons_job_grows_its_curve_live_then_draws_its_boundary(
    page: Any, live_server: str, api_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Streams end every half second: the page must resume each with no point lost or repeated.
    monkeypatch.setattr(get_settings(), "events_max_seconds", 0.5)
    sign_in(page, live_server, api_token)
    submit(page, MOONS)  # examples/moons.json
    # Watched while it runs: the curve has points before the job has ended.
    wait_until(page, f"{STATUS} === 'running' && {POINTS} > 0")
    page.wait_for_selector("#status:text('succeeded')", timeout=60_000)
    wait_until(page, f"{POINTS} === {MOONS['training']['epochs']}")
    image = page.wait_for_selector("#boundary")
    wait_until(page, "document.getElementById('boundary').naturalWidth > 0")
    assert image.is_visible()
    assert page.text_content("#latest-accuracy") == "100.0%"
    # The loss axis turns logarithmic and back; the browser remembers the choice.
    assert page.evaluate(SCALE) == "linear" and not page.is_checked("#log-scale")
    page.check("#log-scale")
    wait_until(page, f"{SCALE} === 'log'")
    page.reload()
    wait_until(page, f"{SCALE} === 'log' && {POINTS} === {MOONS['training']['epochs']}")
    assert page.is_checked("#log-scale") and page.is_visible("#chart canvas")
    page.mouse.move(400, 600)  # away from the chart, so no hover legend in the picture
    shot = tmp_path / "job-moons.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copy(shot, ROOT / "docs" / "job-moons.png")


def test_timings_stay_live_and_cancel_asks_first(
    page: Any, live_server: str, api_token: str, client: Any, queue: str, tmp_path: Path
) -> None:
    sign_in(page, live_server, api_token)
    submit(page, LONG_JOB)  # to this test's own queue, which no worker reads yet
    assert page.text_content("#t-started") == "-" and page.text_content("#t-attempts") == "0"
    assert page.is_visible("#boundary-wait [data-when=waiting]")
    workers = start_workers(tmp_path, 1, QUEUE_NAME=queue)
    try:
        # The page, never reloaded, shows the start, the attempt and a clock that counts up.
        wait_until(page, f"{STATUS} === 'running' && {text('t-attempts')} === '1'", timeout=30)
        assert page.text_content("#t-started") != "-"
        ran = page.text_content("#t-ran")
        wait_until(page, f"{text('t-ran')} !== {json.dumps(ran)}", timeout=10)

        page.once("dialog", lambda dialog: dialog.dismiss())
        page.click("#cancel")  # ... and thought better of it
        time.sleep(1)
        job_id = page.get_attribute("#job", "data-job-id")
        assert client.get(f"/api/v1/jobs/{job_id}").get_json()["status"] == "running"
        assert page.is_enabled("#cancel")

        asked: list[str] = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        page.click("#cancel")
        page.wait_for_selector("#status:text('cancelled')", timeout=30_000)
        assert asked and asked[0].startswith("Cancel this job?")
        assert not page.is_visible("#cancel") and not page.is_visible("#weights")
        wait_until(page, f"{text('t-finished')} !== '-'")
        assert page.is_visible("#boundary-wait [data-when=cancelled]")
        assert not page.is_visible("#boundary-wait [data-when=waiting]")
    finally:
        for worker in workers:
            worker.stop()


def test_every_page_fits_a_phone(
    page: Any, live_server: str, api_token: str, tmp_path: Path, expected_errors: list[str]
) -> None:
    expected_errors.append("status of 404")  # the page for a job that is not there
    sign_in(page, live_server, api_token)
    page.set_viewport_size(PHONE)
    # A name with no place to break, on a job that ends quickly.
    submit(page, {**MOONS, "name": "moons-" * 12, "training": {"epochs": 5}})
    page.wait_for_selector("#status:text('succeeded')", timeout=60_000)
    job_url = page.url
    for url in (live_server + "/", job_url, live_server + "/docs", live_server + "/jobs/nope"):
        page.goto(url)
        width = page.evaluate(PAGE_WIDTH)
        assert width <= PHONE["width"], f"{url} is {width} px wide on a {PHONE['width']} px phone"
    page.goto(live_server + "/")
    assert page.is_visible("#jobs-table") and page.is_visible("#submit-form")
    page.screenshot(path=str(tmp_path / "jobs-phone.png"), full_page=True)
